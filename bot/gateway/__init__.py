"""The gateway: the only public process (aiohttp).

It owns the channels (web chat over WebSocket, SMS through Twilio), the conversations and their
messages, masking of card and bank numbers at the edge, and delivery of replies. Start it with
`python -m bot.gateway`; build it in tests with `bot.gateway.app.create_app(settings)`.
"""
