"""Alarm rules, their evaluation as readings arrive, and the alarm lifecycle (issue 13).

- :mod:`rules` — rule types, the defaults per asset kind and their validation (pure)
- :mod:`evaluate` — what one message or one tick means for one rule (pure, ``now`` passed in)
- :mod:`models` — tables: rules, alarms, the change log the stream tails, notification channels
- :mod:`store` — the lifecycle in the store (raise, repeat, acknowledge, clear) and alarm → order rules
- :mod:`engine` — the thin I/O shell: an MQTT consumer that feeds messages to the pure evaluation
"""
