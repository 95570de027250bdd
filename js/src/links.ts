// Links out from a galaxy's sky position to the survey viewers astronomers check it in. URLs are
// built with URL/URLSearchParams (every value encoded) from numbers only; the anchors open in a
// new tab without giving the page a handle on the widget (rel="noopener noreferrer").

export interface SkyLink {
  name: string;
  href: string;
}

/** SIMBAD's search radius around the position, in arcsec. */
const SIMBAD_RADIUS_ARCSEC = 5;

/** Links out for the position (ra, dec) in degrees; none for a position off the sky. */
export function skyLinks(ra: number, dec: number): SkyLink[] {
  if (!Number.isFinite(ra) || !Number.isFinite(dec) || ra < 0 || ra > 360 || Math.abs(dec) > 90) return [];
  const raText = ra.toFixed(6);
  const decText = `${dec < 0 ? "" : "+"}${dec.toFixed(6)}`;
  const legacy = new URL("https://www.legacysurvey.org/viewer");
  legacy.search = new URLSearchParams({ ra: raText, dec: decText, layer: "ls-dr10", zoom: "16" }).toString();
  const simbad = new URL("https://simbad.cds.unistra.fr/simbad/sim-coo");
  simbad.search = new URLSearchParams({
    Coord: `${raText} ${decText}`,
    Radius: String(SIMBAD_RADIUS_ARCSEC),
    "Radius.unit": "arcsec",
  }).toString();
  return [
    { name: "Legacy Survey", href: legacy.href },
    { name: "SIMBAD", href: simbad.href },
  ];
}

/** An anchor for a link out: new tab, no opener, no referrer. */
export function linkElement(link: SkyLink, className: string): HTMLAnchorElement {
  const a = document.createElement("a");
  a.className = className;
  a.textContent = link.name;
  a.href = link.href;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}
