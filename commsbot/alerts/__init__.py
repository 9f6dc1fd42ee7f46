"""Alerts (#20): tell the officer once when something needs them.

One way through, as posting and digests go: ``problems`` reads what needs the officer
from the store; ``send`` opens one alert per problem in the store (so a problem seen by
every run is alerted once, across restarts, and resolved when it is gone), writes each
message's delivery before sending it, and sends through the channels with
``commsbot.delivery``'s pace, guarded send and outcomes; ``messages`` words them in the
recipient's language with buttons and console links. The bot's Approve / Cancel buttons
are ``commsbot.bot.alert_buttons``.
"""
