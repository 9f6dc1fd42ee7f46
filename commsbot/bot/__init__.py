"""The Telegram bot: chat commands and their replies, admin actions."""
