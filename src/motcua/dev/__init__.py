"""Development stand-ins for the national services a locality rents: the e-ID provider and its
test people, the Stripe stand-in and the mail catcher. Mounted only when development services are
on, never in production; no domain imports this package (an import contract enforces it)."""
