#!/usr/bin/env python3
# Used for BENCHMARKS.md "OTLP answered after its commit": python3 bench/otlp_ack_loop.py PORT CLIENTS REQUESTS SPANS
# against a running `synth-trace serve --otlp-ack commit|queue`.
# Quick OTLP ingest loop: C clients each POST R requests of S spans (OTLP/JSON, GenAI chat spans
# with content, one session per request) to a running serve; prints spans/s until all answered
# and until all committed (health).
import http.client, json, sys, threading, time
port, clients, reqs, spans = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def attr(k, v): return {"key": k, "value": {"stringValue": v}}
def body(c, r):
    tid = "%032x" % (c * 1000000 + r + 1)
    out = []
    for i in range(spans):
        out.append({"traceId": tid, "spanId": "%016x" % (i + 1), "name": "chat gpt-4o",
                    "startTimeUnixNano": str(1735689800000000000 + i), "endTimeUnixNano": str(1735689801000000000 + i),
                    "attributes": [attr("gen_ai.operation.name", "chat"), attr("gen_ai.request.model", "gpt-4o"),
                                   attr("gen_ai.conversation.id", "s-%d-%d" % (c, r)),
                                   attr("gen_ai.input.messages", '[{"role":"user","content":"hi %d"}]' % i)]})
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [attr("service.name", "b")]}, "scopeSpans": [{"spans": out}]}]})
bodies = [[body(c, r) for r in range(reqs)] for c in range(clients)]
def health():
    h = http.client.HTTPConnection("127.0.0.1", port); h.request("GET", "/api/v1/health"); d = json.loads(h.getresponse().read()); return d["ingest"]
base = health()
def run(c):
    h = http.client.HTTPConnection("127.0.0.1", port)
    for b in bodies[c]:
        h.request("POST", "/v1/traces", b, {"Content-Type": "application/json"})
        r = h.getresponse(); r.read()
        assert r.status == 200, r.status
t0 = time.time()
ts = [threading.Thread(target=run, args=(c,)) for c in range(clients)]
[t.start() for t in ts]; [t.join() for t in ts]
t1 = time.time()
total = clients * reqs
while True:
    i = health()
    if i["inserted"] + i["merged"] - base["inserted"] - base["merged"] >= total: break
    time.sleep(0.01)
t2 = time.time()
n = total * spans
print("clients=%d requests=%d spans/request=%d: answered %.0f spans/s, committed %.0f spans/s, commits %d" % (
    clients, total, spans, n / (t1 - t0), n / (t2 - t0), i["commits"] - base["commits"]))
