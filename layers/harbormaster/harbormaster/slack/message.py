"""A Slack message body (incoming webhook / chat.postMessage) and mrkdwn escaping."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harbormaster.model import Model

# Slack's documented limits.
MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000

COLOURS = {"critical": "#d62728", "warning": "#ff9f1c", "success": "#2ca02c", "info": "#1f77b4"}


def escape(text: str) -> str:
    """Escape &, < and > so nothing in the text becomes a link, a mention or @channel."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FENCE = "```"
_BROKEN_FENCE = "`\u200b`\u200b`"  # three backticks a zero-width space apart: shown alike, closes nothing


def code_block(text: str, limit: int = MAX_SECTION_TEXT) -> str:
    """`text` escaped inside a ``` block; a ``` in the text cannot end the block early."""
    body = escape(text).replace(FENCE, _BROKEN_FENCE)
    return f"{FENCE}\n{cut(body, limit - 2 * len(FENCE) - 2)}\n{FENCE}"


def cut(text: str, limit: int) -> str:
    """At most `limit` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


def mention(name: str) -> str:
    """Slack's syntax for a configured mention: `<!here>`, a user `<@U…>`, a user group `<!subteam^S…>`."""
    if name in _SPECIAL:
        return _SPECIAL[name]
    return f"<!subteam^{name}>" if name.startswith("S") else f"<@{name}>"


class SlackMessage(Model):
    """`text` is the notification (and the fallback where blocks cannot show); the header sits in
    the top-level `blocks`, so Slack does not show the title twice (it displays a top-level
    `text` above the attachments only when there are no top-level blocks); the rest sits in one
    attachment, for the colour bar by severity."""

    text: str
    blocks: list[dict[str, Any]] = Field(default_factory=list)
    attachments: list[dict[str, Any]]
    severity: str = Field(default="info", exclude=True)  # for routing; not part of the posted body

    @classmethod
    def build(cls, text: str, severity: str, blocks: list[dict[str, Any]]) -> SlackMessage:
        """A message from its blocks: a leading header on top, the others in the coloured attachment."""
        top = blocks[:1] if blocks and blocks[0].get("type") == "header" else []
        rest = blocks[len(top) :][: MAX_BLOCKS - len(top)]
        return cls(
            text=cut(escape(text), MAX_SECTION_TEXT),  # the notification text is mrkdwn too
            blocks=top,
            attachments=[{"color": COLOURS.get(severity, COLOURS["info"]), "blocks": rest}] if rest else [],
            severity=severity,
        )

    def body(self) -> dict[str, Any]:
        return self.model_dump()

    def quoting(self, title: str, lines: list[str]) -> SlackMessage:
        """The same message with `lines` in a code block under `title`, above its buttons."""
        if not lines:
            return self
        attachment = self.attachments[0] if self.attachments else {"color": COLOURS.get(self.severity), "blocks": []}
        blocks = list(attachment["blocks"])
        at = next((n for n, block in enumerate(blocks) if block.get("type") == "actions"), len(blocks))
        quote = section(f"*{escape(title)}*\n{code_block(chr(10).join(lines), MAX_SECTION_TEXT - len(title) - 4)}")
        blocks.insert(at, quote)
        room = MAX_BLOCKS - len(self.blocks)
        return self.model_copy(update={"attachments": [{**attachment, "blocks": blocks[:room]}]})

    def mentioning(self, names: list[str]) -> SlackMessage:
        """The same message notifying `names`: in the notification text, and shown under the header."""
        if not names:
            return self
        prefix = " ".join(mention(n) for n in names)
        return self.model_copy(
            update={"text": cut(f"{prefix} {self.text}", MAX_SECTION_TEXT), "blocks": [*self.blocks, section(prefix)]}
        )


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, MAX_HEADER_TEXT), "emoji": True}}


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(mrkdwn, MAX_SECTION_TEXT)}}


def fields(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": cut(f"*{escape(name)}*\n{value}", MAX_FIELD_TEXT)}
            for name, value in pairs[:MAX_FIELDS]
        ],
    }


def context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(mrkdwn, MAX_FIELD_TEXT)}]}
