//! Pier's desktop app: a thin shell. It starts the same server as
//! `pier serve` (Kafka on 127.0.0.1:9092, HTTP on 127.0.0.1:8092 by
//! default) on a data directory, shows the web UI in a window, and stops
//! the server cleanly on exit. The UI reaches the workbench through one
//! command, `api`, which runs a request through the HTTP API's router in
//! process, and receives live events as Tauri events.

#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod settings;

use std::net::SocketAddr;
use std::sync::Mutex;

use http_body_util::BodyExt;
use pier::Server;
use serde::Serialize;
use settings::Settings;
use tauri::{Emitter, Manager, RunEvent};
use tower::ServiceExt;

/// What the app had to work around at start (a port taken, …), shown in
/// the UI.
#[derive(Debug, Default, Clone, Serialize)]
struct StartupNotes {
    notes: Vec<String>,
    kafka_address: String,
    http_address: String,
    data_dir: String,
}

struct AppState {
    router: axum::Router,
    notes: StartupNotes,
    server: Mutex<Option<Server>>,
}

#[derive(Debug, Serialize)]
struct ApiReply {
    status: u16,
    body: serde_json::Value,
}

/// One request to the HTTP API, answered in process.
#[tauri::command]
async fn api(
    state: tauri::State<'_, AppState>,
    method: String,
    path: String,
    body: Option<serde_json::Value>,
) -> Result<ApiReply, String> {
    if !path.starts_with("/api/v1/") {
        return Err(format!("not an API path: {path}"));
    }
    let mut request = axum::http::Request::builder()
        .method(method.as_str())
        .uri(path.as_str());
    let body = match body {
        Some(b) => {
            request = request.header("content-type", "application/json");
            axum::body::Body::from(b.to_string())
        }
        None => axum::body::Body::empty(),
    };
    let request = request.body(body).map_err(|e| e.to_string())?;
    let response = state
        .router
        .clone()
        .oneshot(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Ok(ApiReply { status, body })
}

#[tauri::command]
fn startup_notes(state: tauri::State<'_, AppState>) -> StartupNotes {
    state.notes.clone()
}

#[tauri::command]
fn settings_get(app: tauri::AppHandle) -> Settings {
    Settings::load(&app)
}

#[tauri::command]
fn settings_set(app: tauri::AppHandle, settings: Settings) -> Result<Settings, String> {
    settings.validate()?;
    settings.save(&app).map_err(|e| e.to_string())?;
    Ok(settings)
}

/// Starts the server; a taken port falls back to a free one, with a note.
async fn start_server(settings: &Settings, notes: &mut Vec<String>) -> anyhow::Result<Server> {
    let mut kafka: SocketAddr = ([127, 0, 0, 1], settings.kafka_port).into();
    let mut http: SocketAddr = ([127, 0, 0, 1], settings.http_port).into();
    for (name, addr) in [("Kafka", &mut kafka), ("HTTP", &mut http)] {
        if addr.port() != 0 && std::net::TcpListener::bind(*addr).is_err() {
            notes.push(format!(
                "Port {} for {name} is taken (another broker running?). Using a free port instead; choose another in Settings.",
                addr.port()
            ));
            addr.set_port(0);
        }
    }
    Server::builder()
        .data_dir(&settings.data_dir)
        .kafka_addr(kafka)
        .http_addr(http)
        .broker_config(pier::BrokerConfig {
            auto_create_topics: settings.auto_create_topics,
            num_partitions: settings.default_partitions,
            advertised_host: None,
            ..pier::BrokerConfig::default()
        })
        // A learning tool: let the power-loss fault really drop what was
        // not yet fsynced.
        .store_options(pier::pier_core::StoreOptions {
            page_cache_model: true,
            ..pier::pier_core::StoreOptions::default()
        })
        .start()
        .await
}

fn main() {
    tracing::info!("starting Pier desktop");
    tauri::Builder::default()
        .plugin(tauri_plugin_store::Builder::default().build())
        .invoke_handler(tauri::generate_handler![
            api,
            startup_notes,
            settings_get,
            settings_set
        ])
        .setup(|app| {
            let settings = Settings::load(app.handle());
            let mut notes = Vec::new();
            let server = tauri::async_runtime::block_on(start_server(&settings, &mut notes))?;
            let workbench = server.workbench().clone();
            let state = AppState {
                router: pier_http::router(workbench.clone()),
                notes: StartupNotes {
                    notes,
                    kafka_address: server.kafka_addr().to_string(),
                    http_address: server
                        .http_addr()
                        .map(|a| a.to_string())
                        .unwrap_or_default(),
                    data_dir: settings.data_dir.display().to_string(),
                },
                server: Mutex::new(Some(server)),
            };
            app.manage(state);
            if let Some(window) = app.get_webview_window("main") {
                let _ = window.set_size(tauri::LogicalSize::new(
                    f64::from(settings.window_width),
                    f64::from(settings.window_height),
                ));
            }
            // Live events, polled like an SSE subscriber, as Tauri events.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                let mut cursor = pier_workbench::EventCursor::new();
                loop {
                    for event in cursor.poll(&workbench) {
                        let _ = handle.emit("pier-event", &event);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                }
            });
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("building the Pier window")
        .run(|app, event| {
            if let RunEvent::Exit = event
                && let Some(state) = app.try_state::<AppState>()
                && let Some(server) = state.server.lock().expect("server lock").take()
            {
                tauri::async_runtime::block_on(server.shutdown());
            }
        });
}
