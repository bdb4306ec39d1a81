"""Locust users sending Cloud API text messages to wabench's simulator (see make_locust_fixture.sh)."""

import random

from locust import HttpUser, constant_throughput, task


class CloudSender(HttpUser):
    # Each user sends about 5 messages a second; 10 users make about 50/s.
    wait_time = constant_throughput(5)

    @task
    def send_text(self):
        n = random.randint(0, 1999)  # 2,000 recipients: well inside the pair rate limit (1 per 6 s)
        self.client.post(
            "/v23.0/106540352242922/messages",
            json={"messaging_product": "whatsapp", "to": f"1555{n:07d}", "type": "text", "text": {"body": "hello"}},
            headers={"Authorization": "Bearer wabench-embedded-token"},
            name="send text",
        )
