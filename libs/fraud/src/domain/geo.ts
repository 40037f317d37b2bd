const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle distance in metres (haversine on the mean Earth radius). */
export function distanceM(
  a: { lat: number; lng: number },
  b: { lat: number; lng: number },
): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** The point `metres` north of `from` (same longitude): handy to build test fixtures. */
export function northOf(
  from: { lat: number; lng: number },
  metres: number,
): { lat: number; lng: number } {
  return { lat: from.lat + (metres / EARTH_RADIUS_M) * (180 / Math.PI), lng: from.lng };
}
