"""The ``centeros`` command line client; it imports no server code."""
