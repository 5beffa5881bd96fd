"""The baseline: a bare pygls server that only answers ``initialize``.

Kaizen's start-up is reported beside this one, measured in the same run, because absolute
milliseconds on a shared 2-core machine mean little.
"""

from pygls.lsp.server import LanguageServer

server = LanguageServer("bare", "0")

if __name__ == "__main__":
    server.start_io()
