"""What people do on `make run`, as Playwright steps shared by the browser tests and by
`make screenshots`: each journey takes a signed-in page, the portal's address and the language
the page is shown in, and finds what it clicks by role, label, data-testid or form action."""
