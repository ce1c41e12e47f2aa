"""Parse messages with a trained Rasa model, loading it once.

Run with the Rasa environment's Python (the app environment never imports `rasa`):
`rasa-env/.venv/bin/python tests/nlu/parse_messages.py MODEL IN.json OUT.json`. IN.json is a
list of texts; OUT.json gets, per text, the predicted intent, its confidence, the intent ranking
and the entities (type, text span, extractor). The NLU accuracy test scores every held-out split
from one load instead of one `rasa test nlu` per split, which matters on a busy 2-core machine.
"""

from __future__ import annotations

import asyncio
import json
import sys


async def _parse(model: str, texts: list[str]) -> list[dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    results = []
    for text in texts:
        parsed = await agent.parse_message(text)
        results.append(
            {
                "intent": parsed["intent"]["name"],
                "confidence": parsed["intent"]["confidence"],
                # Best first; with nlu_fallback on top when the FallbackClassifier fired, as the
                # unsure-message action (bot.actions.recovery.action_offer_choices) sees it.
                "intent_ranking": [
                    {"name": r["name"], "confidence": r["confidence"]}
                    for r in parsed.get("intent_ranking", [])[:6]
                ],
                "entities": [
                    {
                        "entity": e["entity"],
                        "text": text[e["start"] : e["end"]],
                        "extractor": e.get("extractor"),
                    }
                    for e in parsed.get("entities", [])
                ],
            }
        )
    return results


def main() -> None:
    model, source, target = sys.argv[1:4]
    with open(source, encoding="utf-8") as handle:
        texts = json.load(handle)
    results = asyncio.run(_parse(model, texts))
    with open(target, "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
