"""Adapters: the outside world behind the protocols of `bot.services` (texts, email, payment
processors, the co-op's billing system). Nothing above this layer talks to a provider directly."""
