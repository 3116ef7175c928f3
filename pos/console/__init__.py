"""The program officer's console at /admin/: server-rendered pages (Jinja2, autoescaped),
in Chinese (the default) and English, with a little JavaScript that sends the console's
forms to the same API calls scripts use. Rendering only: the routes live in
`pos.api.console_routes`."""
