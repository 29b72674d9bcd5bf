"""Sales KPIs beyond the core: customers, refunds, churn, CAC, affinity, pricing, stock, market share."""
from __future__ import annotations

from .kpi import COUNT, CURRENCY, EVENT, RATIO, SALES, Kpi, declare_traits
from .kpi import kpi as _k

_ORDER = ("order_completed",)
_REFUND = ("order_refunded",)
_PRICES = ("price_changed", "competitor_price_observed")
_STOCK = ("inventory_reported",)
_SPEND = ("ad_performance_reported", "marketing_spend_reported")

# Orders, refunds and churn: processors/commerce.py and processors/churn.py; catalog
# feeds: processors/catalog.py (their module docstrings give the exact rules).
KPIS: tuple[Kpi, ...] = (
    _k("returning_customer_orders", 35, SALES, "returning_customer_orders", None, COUNT, EVENT, (),
       "Orders of customers who had ordered before.", "count of orders that are not a customer's first", _ORDER),
    _k("new_customer_revenue", 35, SALES, "new_customer_revenue", None, CURRENCY, EVENT, (),
       "Revenue of customers' first orders.", "sum of revenue of first orders per customer", _ORDER),
    _k("net_revenue", 40, SALES, "net_revenue", None, CURRENCY, EVENT, ("country", "currency"),
       "Order revenue minus refunds booked in the window (country of the refunded order when known).",
       "sum(order revenue) - sum(refund amount)", _ORDER + _REFUND),
    _k("clv", 30, SALES, "lifetime_net_revenue", "customers_seen", CURRENCY, EVENT, (),
       "Customer lifetime value: revenue net of refunds so far per customer seen so far (running).",
       "sum(revenue) - sum(refunds) before the window end / customers with an order before it", _ORDER + _REFUND),
    _k("churn_rate", 25, SALES, "churned_customers", "active_customers", RATIO, EVENT, (),
       "Customers whose last order + churn horizon falls in the day / customers with an order "
       "in the horizon before the day's start.",
       "customers churning in the window / customers active at its start", _ORDER, windows=("1d",)),
    _k("cac", 28, SALES, "acquisition_spend", "new_customer_orders", CURRENCY, EVENT, (),
       "Customer acquisition cost: ad cost and marketing spend (periods starting in the window) per new customer.",
       "(sum(ad cost) + sum(marketing spend)) / new customers", _SPEND + _ORDER, windows=("1h", "1d")),
    _k("product_affinity", 37, SALES, "affinity_pairs", "affinity_items", COUNT, EVENT, (),
       "Top 20 product pairs bought in one order, with support, confidence (a -> b) and lift.",
       "pair orders; support = pair orders / orders; confidence = pair orders / orders with a; "
       "lift = support / (P(a) x P(b))", _ORDER, ranking="affinity"),
    _k("competitor_price_index", 26, SALES, "price_index_sum", "priced_skus", RATIO, EVENT, ("category",),
       "Mean over SKUs of own price / lowest competitor price (latest prices, running).",
       "mean over SKUs with both prices of own / min competitor", _PRICES),
    _k("priced_above_competitor_share", 26, SALES, "priced_above_skus", "priced_skus", RATIO, EVENT, ("category",),
       "Share of SKUs priced above their lowest competitor (latest prices, running).",
       "SKUs with own > min competitor / SKUs with both prices", _PRICES),
    _k("inventory_available", 33, SALES, "inventory_units", None, COUNT, EVENT, ("location", "category"),
       "Units available: latest report per (SKU, location), summed (running).",
       "sum of the latest available per (sku, location)", _STOCK),
    _k("stockout_skus", 33, SALES, "stockout_skus", None, COUNT, EVENT, ("location", "category"),
       "Stock-outs: (SKU, location) pairs whose latest report has 0 available (running).",
       "count of (sku, location) with latest available = 0", _STOCK),
    _k("market_share", 41, SALES, "segment_revenue", "market_size", RATIO, EVENT, ("segment",),
       "Revenue / market size prorated to the window (segment = product category of the order lines).",
       "revenue / sum(market size x overlap / period length)", _ORDER + ("market_size_reported",),
       windows=("1h", "1d")),
)

declare_traits("money", "new_customer_revenue", "net_revenue", "lifetime_net_revenue", "acquisition_spend",
               "segment_revenue", "market_size")
declare_traits("cumulative", "lifetime_net_revenue", "customers_seen", "active_customers", "price_index_sum",
               "priced_skus", "priced_above_skus", "inventory_units", "stockout_skus")
declare_traits("ranking", "affinity_pairs", "affinity_items")
