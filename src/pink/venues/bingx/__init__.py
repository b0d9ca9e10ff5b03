"""BingX USDT-M perpetual futures: the adapter (``venue``: REST + WebSocket, with
``config``, ``http``, ``parse``, ``parse_rest``, ``signing`` ...) and a simulator server
speaking its wire format (``server*``). Import from the modules; this package imports
nothing, so that loading one of them (the command line does) stays cheap."""
