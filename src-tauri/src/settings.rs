//! The desktop app's settings, kept with tauri-plugin-store in
//! `settings.json` under the app's data directory. They apply at the next
//! start.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tauri::Manager;
use tauri_plugin_store::StoreExt;

const STORE: &str = "settings.json";
const KEY: &str = "settings";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub kafka_port: u16,
    pub http_port: u16,
    pub auto_create_topics: bool,
    pub default_partitions: u32,
    pub theme: String,
    pub window_width: u32,
    pub window_height: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("pier-data"),
            kafka_port: 9092,
            http_port: 8092,
            auto_create_topics: true,
            default_partitions: 1,
            theme: "system".to_owned(),
            window_width: 1280,
            window_height: 860,
        }
    }
}

impl Settings {
    pub fn load(app: &tauri::AppHandle) -> Self {
        let base = app
            .path()
            .app_data_dir()
            .unwrap_or_else(|_| PathBuf::from("."));
        let mut s: Settings = app
            .store(STORE)
            .ok()
            .and_then(|store| store.get(KEY))
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        if s.data_dir.is_relative() {
            s.data_dir = base.join(&s.data_dir);
        }
        s
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1024).contains(&self.default_partitions) {
            return Err("default partitions must be 1–1024".to_owned());
        }
        if !["system", "light", "dark"].contains(&self.theme.as_str()) {
            return Err("theme must be system, light or dark".to_owned());
        }
        if self.kafka_port != 0 && self.kafka_port == self.http_port {
            return Err("Kafka and HTTP need different ports".to_owned());
        }
        if !(600..=10_000).contains(&self.window_width)
            || !(400..=10_000).contains(&self.window_height)
        {
            return Err("window size out of range".to_owned());
        }
        Ok(())
    }

    pub fn save(&self, app: &tauri::AppHandle) -> anyhow::Result<()> {
        let store = app.store(STORE)?;
        store.set(KEY, serde_json::to_value(self)?);
        store.save()?;
        Ok(())
    }
}
