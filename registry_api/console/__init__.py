"""The officers' console: server-rendered pages for the administration's staff, served by
the registry process under ``/console`` on the same database, service layer and role
checks as the API (docs/console.md).

- ``app``: the mounted application, its error pages and security headers;
- ``sign_in``, ``sso``: local accounts (password, TOTP) and OpenID Connect sign-in;
- ``sessions``, ``csrf``, ``principal``, ``deps``: sessions and their cookie, CSRF checks,
  and the signed-in person as the API's principal;
- ``accounts``, ``passwords``, ``totp``, ``sealing``, ``roles``: the rules under them;
- ``templating``, ``i18n``, ``templates/``, ``locale/``: pages and their catalogues;
- ``bundle``, ``js/``, ``static/``: the locally served script (htmx) and style.

The registry's app mounts ``console.app.create_console``. This package's ``__init__``
imports nothing, so that ``python -m registry_api.console.i18n`` and ``.bundle`` run
without loading the web stack first.
"""
