"""Custom actions served by `python -m rasa_sdk --actions bot.actions`.

rasa-sdk imports every module of this package (sub-packages too) and registers each `Action`
subclass. One module or package per journey, importing only the shared `deps`, `tracker` and
`common`; actions stay thin (slots and messages in, calls to `bot.services`, events out) and get
their settings, profile, database and clock from `bot.actions.deps.get_deps()`.
"""
