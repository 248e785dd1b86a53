"""The chart of accounts (code, name, kind). Pure data: migrations and actions read it."""

CHART = [
    ("1000", "Cash", "asset"),
    ("1100", "Accounts receivable", "asset"),
    ("2000", "Deferred revenue", "liability"),
    ("2100", "Sales tax payable", "liability"),
    ("2200", "Member credit balances", "liability"),
    ("2300", "Gift subscriptions outstanding", "liability"),
    ("2400", "Affiliate commissions payable", "liability"),
    ("3000", "Owner's equity", "equity"),
    ("4000", "Subscription revenue", "revenue"),
    ("4100", "Fee revenue", "revenue"),
    ("4900", "Credits and discounts", "contra_revenue"),
    ("5000", "Postage", "expense"),
    ("5100", "Content licensing", "expense"),
    ("5200", "Affiliate payouts", "expense"),
    ("5300", "Payment processing and chargebacks", "expense"),
    ("6000", "Bad debt", "expense"),
]
