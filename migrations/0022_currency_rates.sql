-- Exchange rates the operator maintains (POST /v1/currency-rates), so that reports add revenue
-- in one currency (REPORT_CURRENCY) instead of summing EUR, USD and GBP as plain numbers.
-- A row reads: 1 `base` = `rate` `quote`. The latest rate per pair is the one used.
create table currency_rates (
  base text not null check (base ~ '^[A-Z]{3}$'),
  quote text not null check (quote ~ '^[A-Z]{3}$' and quote <> base),
  rate numeric(24, 12) not null check (rate > 0),
  updated_at timestamptz not null default now(),
  primary key (base, quote)
);

-- An amount in `currency` expressed in `report`: itself when they are the same (or the
-- currency is unknown, as for lines imported without one, which default to the shop's), else
-- through a stored pair in either direction; null when no rate converts it, so that a sum
-- leaves it out rather than adding it as if it were the report currency.
create function report_amount(amount numeric, currency text, report text) returns numeric
language sql stable parallel safe as $$
  select case
    when amount is null then null
    when currency is null or upper(currency) = report then amount
    else coalesce(
      (select amount * r.rate from currency_rates r where r.base = upper(currency) and r.quote = report),
      (select amount / r.rate from currency_rates r where r.base = report and r.quote = upper(currency)))
  end
$$;
