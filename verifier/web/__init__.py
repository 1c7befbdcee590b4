"""The border officer's web page: a small Starlette app (app.py) and its static files."""
