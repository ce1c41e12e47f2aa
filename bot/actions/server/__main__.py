"""`python -m bot.actions.server`: the action server (see `bot.actions.server`)."""

from bot.actions.server import main

if __name__ == "__main__":
    main()
