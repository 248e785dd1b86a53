"""Real-looking US geography for the demo: distribution centers and 3-digit ZIP regions.

Coordinates are approximate city centres; populations (thousands) are rough metro-area shares
used only to spread demo members. Public facts, typed here; no data is downloaded.
"""

from __future__ import annotations

import math

# code, name, city, state, lat, lon
DCS = [
    ("EWR", "Newark Distribution Center", "Newark", "NJ", 40.73, -74.17),
    ("ATL", "Atlanta Distribution Center", "Atlanta", "GA", 33.75, -84.39),
    ("ORD", "Carol Stream Distribution Center", "Carol Stream", "IL", 41.91, -88.13),
    ("DFW", "Dallas Distribution Center", "Dallas", "TX", 32.78, -96.80),
    ("DEN", "Denver Distribution Center", "Denver", "CO", 39.74, -104.99),
    ("ONT", "Ontario Distribution Center", "Ontario", "CA", 34.06, -117.65),
    ("SJC", "San Jose Distribution Center", "San Jose", "CA", 37.34, -121.89),
    ("SEA", "Kent Distribution Center", "Kent", "WA", 47.38, -122.23),
]

# zip3, area name, state, lat, lon, population (thousands)
REGIONS = [
    ("021", "Boston", "MA", 42.36, -71.06, 4900),
    ("029", "Providence", "RI", 41.82, -71.41, 1600),
    ("041", "Portland", "ME", 43.66, -70.26, 550),
    ("061", "Hartford", "CT", 41.76, -72.69, 1200),
    ("070", "Newark", "NJ", 40.74, -74.17, 2100),
    ("100", "Manhattan", "NY", 40.78, -73.97, 1600),
    ("112", "Brooklyn", "NY", 40.65, -73.95, 2600),
    ("122", "Albany", "NY", 42.65, -73.76, 880),
    ("142", "Buffalo", "NY", 42.89, -78.88, 1100),
    ("152", "Pittsburgh", "PA", 40.44, -80.00, 2300),
    ("191", "Philadelphia", "PA", 39.95, -75.17, 6200),
    ("200", "Washington", "DC", 38.91, -77.04, 6300),
    ("212", "Baltimore", "MD", 39.29, -76.61, 2800),
    ("232", "Richmond", "VA", 37.54, -77.44, 1300),
    ("276", "Raleigh", "NC", 35.78, -78.64, 1400),
    ("282", "Charlotte", "NC", 35.23, -80.84, 2600),
    ("294", "Charleston", "SC", 32.78, -79.93, 800),
    ("303", "Atlanta", "GA", 33.75, -84.39, 6100),
    ("322", "Jacksonville", "FL", 30.33, -81.66, 1600),
    ("328", "Orlando", "FL", 28.54, -81.38, 2600),
    ("331", "Miami", "FL", 25.76, -80.19, 6100),
    ("336", "Tampa", "FL", 27.95, -82.46, 3200),
    ("352", "Birmingham", "AL", 33.52, -86.80, 1100),
    ("372", "Nashville", "TN", 36.16, -86.78, 2000),
    ("381", "Memphis", "TN", 35.15, -90.05, 1300),
    ("392", "Jackson", "MS", 32.30, -90.18, 600),
    ("402", "Louisville", "KY", 38.25, -85.76, 1300),
    ("432", "Columbus", "OH", 39.96, -83.00, 2100),
    ("441", "Cleveland", "OH", 41.50, -81.69, 2100),
    ("452", "Cincinnati", "OH", 39.10, -84.51, 2200),
    ("462", "Indianapolis", "IN", 39.77, -86.16, 2100),
    ("482", "Detroit", "MI", 42.33, -83.05, 4300),
    ("495", "Grand Rapids", "MI", 42.96, -85.67, 1100),
    ("500", "Des Moines", "IA", 41.59, -93.62, 700),
    ("532", "Milwaukee", "WI", 43.04, -87.91, 1600),
    ("554", "Minneapolis", "MN", 44.98, -93.27, 3700),
    ("571", "Sioux Falls", "SD", 43.54, -96.73, 280),
    ("581", "Fargo", "ND", 46.88, -96.79, 250),
    ("591", "Billings", "MT", 45.78, -108.50, 180),
    ("606", "Chicago", "IL", 41.88, -87.63, 9500),
    ("631", "St. Louis", "MO", 38.63, -90.20, 2800),
    ("641", "Kansas City", "MO", 39.10, -94.58, 2200),
    ("672", "Wichita", "KS", 37.69, -97.34, 650),
    ("681", "Omaha", "NE", 41.26, -95.93, 970),
    ("701", "New Orleans", "LA", 29.95, -90.07, 1300),
    ("722", "Little Rock", "AR", 34.75, -92.29, 750),
    ("731", "Oklahoma City", "OK", 35.47, -97.52, 1400),
    ("741", "Tulsa", "OK", 36.15, -95.99, 1000),
    ("752", "Dallas", "TX", 32.78, -96.80, 7600),
    ("770", "Houston", "TX", 29.76, -95.37, 7100),
    ("782", "San Antonio", "TX", 29.42, -98.49, 2600),
    ("787", "Austin", "TX", 30.27, -97.74, 2300),
    ("799", "El Paso", "TX", 31.76, -106.49, 870),
    ("802", "Denver", "CO", 39.74, -104.99, 2900),
    ("820", "Cheyenne", "WY", 41.14, -104.82, 100),
    ("837", "Boise", "ID", 43.62, -116.20, 750),
    ("841", "Salt Lake City", "UT", 40.76, -111.89, 1250),
    ("850", "Phoenix", "AZ", 33.45, -112.07, 4900),
    ("857", "Tucson", "AZ", 32.22, -110.97, 1050),
    ("871", "Albuquerque", "NM", 35.08, -106.65, 920),
    ("891", "Las Vegas", "NV", 36.17, -115.14, 2300),
    ("900", "Los Angeles", "CA", 34.05, -118.24, 9800),
    ("921", "San Diego", "CA", 32.72, -117.16, 3300),
    ("926", "Santa Ana", "CA", 33.75, -117.87, 3200),
    ("941", "San Francisco", "CA", 37.77, -122.42, 4700),
    ("951", "San Jose", "CA", 37.34, -121.89, 2000),
    ("958", "Sacramento", "CA", 38.58, -121.49, 2400),
    ("972", "Portland", "OR", 45.52, -122.68, 2500),
    ("981", "Seattle", "WA", 47.61, -122.33, 4000),
    ("992", "Spokane", "WA", 47.66, -117.43, 600),
    ("995", "Anchorage", "AK", 61.22, -149.90, 400),
    ("968", "Honolulu", "HI", 21.31, -157.86, 1000),
]


def km_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(a))


def transit_days(km: float) -> int | None:
    """First-class mail by distance; beyond ~4,500 km a DC does not serve the region."""
    for limit, days in ((300, 1), (750, 2), (1400, 3), (2300, 4), (4500, 5)):
        if km <= limit:
            return days
    return None
