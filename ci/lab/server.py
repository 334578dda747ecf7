"""A server that owns the Docker port in the lab's VM but is not dockerd.

`http`: a plain HTTP server answering 404 like nginx; `silent`: accepts every connection and
never sends a byte. Runs until the lab is taken down.
"""
import socket
import sys
import threading

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
held = []


def serve(conn):
    if mode == "silent":
        held.append(conn)
        return
    conn.settimeout(5)
    try:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 404 Not Found\r\nServer: nginx/1.22.1\r\nContent-Type: text/html\r\n"
                     b"Content-Length: 22\r\nConnection: close\r\n\r\n<h1>404 Not Found</h1>")
    finally:
        conn.close()


while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
