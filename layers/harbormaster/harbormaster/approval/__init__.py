"""Approvals and rollbacks on someone's say-so: the approval gate's service (`service`), Slack's
button endpoint (`slack_request`, which must load fast: it answers within Slack's 3 seconds, so this
package imports nothing on its own) and the worker that carries out a queued click (`slack_click`)."""
