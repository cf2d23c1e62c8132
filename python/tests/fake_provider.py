"""A local OpenAI-compatible server for the LM tests (real HTTP on 127.0.0.1, like the C++ tests'
ProviderServer): answers /v1/chat/completions from a script of replies, streamed or whole, and
records every request it receives."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional


def openai_answer(text: str, model: str = "gpt-4", prompt_tokens: int = 12, completion_tokens: int = 5) -> Dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def openai_stream(pieces: List[str], model: str = "gpt-4", prompt_tokens: int = 9,
                  completion_tokens: int = 3) -> List[Dict]:
    events = [{"id": "chatcmpl-2", "model": model, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events.append({"id": "chatcmpl-2", "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({"id": "chatcmpl-2", "model": model, "choices": [],
                   "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}})
    return events


@dataclass
class Reply:
    status: int = 200
    body: Optional[Dict] = None
    #: Server-sent events (each a JSON object), followed by ``data: [DONE]``.
    events: Optional[List[Dict]] = None
    delay_s: float = 0.0
    event_gap_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: Dict[str, str]
    body: Dict[str, Any]


@dataclass
class FakeProvider:
    server: ThreadingHTTPServer
    thread: threading.Thread
    replies: List[Reply] = field(default_factory=list)
    received: List[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self.replies.extend(replies)

    def next_reply(self) -> Reply:
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
        return Reply(status=500, body={"error": {"message": "no reply scripted"}})

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start() -> FakeProvider:
    provider: Dict[str, FakeProvider] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet test output
            pass

        def do_POST(self) -> None:
            fake = provider["it"]
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with fake.lock:
                fake.received.append(Received(self.path, dict(self.headers.items()), json.loads(raw or b"{}")))
            reply = fake.next_reply()
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.events is not None:
                self.send_response(reply.status)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    for event in reply.events:
                        if reply.event_gap_s:
                            time.sleep(reply.event_gap_s)
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading
                self.close_connection = True
                return
            body = json.dumps(reply.body or {}).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    fake = FakeProvider(server=server, thread=thread)
    provider["it"] = fake
    thread.start()
    return fake
