"""The login of ``factsync serve``: password hashes and the users file (``passwords``), and the
aiohttp gate in front of the app textual-serve runs (``gate``)."""
