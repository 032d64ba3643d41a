"""Travel times and straight-line distances between facilities and institutions."""

from matching.travel.geodesic import geodesic_km, geodesic_km_matrix, pairs_within_km
from matching.travel.providers import (
           GeodesicTravel,
           MatrixOverride,
           Points,
           RoadNetworkTravel,
           TravelTimes,
)

__all__ = ["GeodesicTravel", "MatrixOverride", "Points", "RoadNetworkTravel", "TravelTimes",
           "geodesic_km", "geodesic_km_matrix", "pairs_within_km"]
