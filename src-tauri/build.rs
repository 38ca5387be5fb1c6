fn main() {
    // Our commands get `allow-<name>` permissions; capabilities/default.json
    // grants exactly those.
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "api",
            "settings_get",
            "settings_set",
            "startup_notes",
        ]),
    ))
    .expect("tauri build script");
}
