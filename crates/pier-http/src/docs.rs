//! `GET /docs`: a self-contained page (no CDN) that lists the API from
//! `/openapi.json`.

use axum::response::Html;

pub(crate) async fn page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pier HTTP API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d232a}
h1{margin-bottom:0}code,pre{font:13px ui-monospace,monospace}pre{background:#f4f6f8;padding:.75rem;overflow:auto;border-radius:6px}
.op{border:1px solid #d8dee4;border-radius:8px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{color:#0a7d32}.post{color:#0b5cad}.delete{color:#b42318}
details summary{cursor:pointer}
@media (prefers-color-scheme:dark){body{background:#12161b;color:#e6e9ed}pre{background:#1c2229}.op{border-color:#2d353e}}
</style></head><body>
<h1>Pier HTTP API</h1>
<p>The machine-readable description is at <a href="/openapi.json"><code>/openapi.json</code></a> (OpenAPI 3.1).
Errors are <code>application/problem+json</code> with a stable <code>type</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/openapi.json').then(r => r.json()).then(spec => {
  const ops = document.getElementById('ops'); ops.textContent = '';
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text) e.textContent = text; return e; };
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const box = el('div', 'op');
      const head = el('div'); head.append(el('span', 'm ' + method, method), el('code', '', path));
      box.append(head);
      if (op.description || op.summary) box.append(el('p', '', (op.summary || '') + ' ' + (op.description || '')));
      const params = (op.parameters || []).map(p => p.name + ' (' + p.in + ')').join(', ');
      if (params) box.append(el('p', '', 'Parameters: ' + params));
      const details = el('details'); details.append(el('summary', '', 'Responses and schema'));
      details.append(el('pre', '', JSON.stringify({requestBody: op.requestBody, responses: op.responses}, null, 2)));
      box.append(details); ops.append(box);
    }
  }
}).catch(e => { document.getElementById('ops').textContent = 'Could not load /openapi.json: ' + e; });
</script></body></html>
"#;
