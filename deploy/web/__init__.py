"""The web portal (`thidua web`): the entry layer for people and machine clients over HTTP.

Like the CLI it only calls the work layer (thidua.tasks.*: report ingestion, templates, history, identity)
and maps its errors by kind, in one place (errors.py). Pages are server-rendered Vietnamese HTML (Jinja2,
plain forms, one small stylesheet: nothing from a CDN, no script needed); the JSON API lives under
/api/v1 with its OpenAPI schema at /api/v1/openapi.json.

    app.py        create_app(settings): the FastAPI application, its state and middleware
    security.py   who is asking (session cookie or bearer token), CSRF, the request body limit
    errors.py     ThiduaError kinds → HTTP statuses, as an HTML page or JSON by route
    pages.py      the HTML pages (sign-in, the unit's home, a period: template, upload, history)
    api.py        /api/v1
    cli.py        `thidua web [--host] [--port]` (uvicorn)
"""
