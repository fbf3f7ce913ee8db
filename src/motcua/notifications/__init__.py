"""Notifications: email over SMTP (``mailer``), SMS behind a provider (``sms``), Vietnamese
templates per event that a tenant theme may override (``templates``), and the development mail
catcher (``mailcatcher``)."""
