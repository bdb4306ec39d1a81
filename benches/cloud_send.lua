-- wrk script: Cloud API text send to the simulator.
wrk.method = "POST"
wrk.body = '{"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"text","text":{"body":"Load test message"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer wabench-embedded-token"
