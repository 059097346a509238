"""Vocabulary for believable generated data. Addresses use reserved example domains (RFC 2606)."""

from __future__ import annotations

FIRST_NAMES = (
    "olivia", "liam", "emma", "noah", "ava", "elijah", "sophia", "james", "isabella", "lucas", "mia",
    "mateo", "amelia", "levi", "harper", "ethan", "evelyn", "aiden", "luna", "kai", "chloe", "leo",
    "nora", "omar", "zoe", "ravi", "yuki", "ines", "tomas", "priya", "chen", "fatima", "diego", "ana",
    "hugo", "lena", "arjun", "sara", "felix", "maya",
)  # fmt: skip

LAST_NAMES = (
    "smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
    "martinez", "lopez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin", "lee",
    "perez", "thompson", "white", "harris", "clark", "lewis", "walker", "young", "allen", "king",
    "wright", "scott", "nguyen", "kim", "patel", "silva", "rossi", "muller", "dubois", "sato", "kowalski",
)  # fmt: skip

EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example", "inbox.example")

CITIES = (
    ("San Francisco", "CA", "United States"), ("New York", "NY", "United States"),
    ("Austin", "TX", "United States"), ("Chicago", "IL", "United States"),
    ("Seattle", "WA", "United States"), ("Denver", "CO", "United States"),
    ("London", "ENG", "United Kingdom"), ("Manchester", "ENG", "United Kingdom"),
    ("Paris", "IDF", "France"), ("Berlin", "BE", "Germany"), ("Madrid", "MD", "Spain"),
    ("Toronto", "ON", "Canada"), ("Sydney", "NSW", "Australia"), ("Tokyo", "13", "Japan"),
    ("Sao Paulo", "SP", "Brazil"), ("Mumbai", "MH", "India"),
)  # fmt: skip

STREETS = ("Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine St", "Elm St", "Lake Rd", "Hill Ct")

CATEGORIES = ("shoes", "outdoor", "kitchen", "books", "electronics", "beauty", "toys", "garden", "sports")

INTERESTS = ("running", "cooking", "travel", "photography", "gaming", "yoga", "music", "hiking", "design")

PRODUCT_ADJECTIVES = (
    "Classic", "Trail", "Ultra", "Compact", "Everyday", "Pro", "Vintage", "Organic", "Smart", "Cozy",
)  # fmt: skip
PRODUCT_NOUNS = (
    "Runner", "Backpack", "Kettle", "Notebook", "Headphones", "Jacket", "Lamp", "Blender", "Tent",
    "Water Bottle", "Sneaker", "Planter", "Speaker", "Mug",
)  # fmt: skip

CAMPAIGN_TOPICS = (
    "Spring Sale", "Welcome Series", "Abandoned Cart", "Back in Stock", "Weekly Digest", "Price Drop",
    "Birthday Offer", "Win-back", "New Arrivals", "Loyalty Rewards", "Order Confirmation",
    "Shipping Update", "Black Friday", "Holiday Gift Guide", "Re-engagement", "Product Review Request",
)  # fmt: skip

EDITORS = ("ops@brand.example", "marketing@brand.example", "lifecycle@brand.example", "crm@brand.example")

USER_AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Safari/605.1.15", "Mac"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Mobile/15E148", "iPhone"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Mobile Safari/537.36", "Android"),
    ("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", "Gmail"),
)  # fmt: skip

CUSTOM_EVENTS = ("viewedProduct", "addedToCart", "appLaunched", "searched", "reviewSubmitted", "wishlistAdd")

BOUNCE_STATES = (("HardBounce", "5.1.1"), ("SoftBounce", "4.2.2"), ("HardBounce", "5.4.1"))

SKIP_REASONS = ("FrequencyCapped", "DuplicateMarketingMessage", "MessageTypeUnsubscribed", "InvalidEmail")
