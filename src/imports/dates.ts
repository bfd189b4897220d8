/**
 * Reads the purchase dates an import takes (ISO 8601 with or without an offset, `dd/mm/yyyy`
 * and `dd.mm.yyyy` with an optional `hh:mm[:ss]` or `14h30`), for the preview's count of the
 * lines recent enough to fire automations. The import itself reads them in SQL
 * (purchase-sql.ts); this mirrors it for a file that is not stored yet. Null: not a date.
 */
export function readPurchaseDate(text: string, timezone: string): Date | null {
  const value = text.trim();
  const iso =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      value,
    );
  const local = /^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?:[ T]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$/.exec(value);
  let fields: number[];
  let offset: string | undefined;
  if (iso) {
    fields = [iso[1], iso[2], iso[3], iso[4], iso[5], iso[6]].map((f) => Number(f ?? 0));
    fields.push(Number(`0.${iso[7] ?? '0'}`) * 1000);
    offset = iso[8];
  } else if (local) {
    fields = [local[3], local[2], local[1], local[4], local[5], local[6]].map((f) => Number(f ?? 0));
    fields.push(0);
  } else return null;
  const [y, mo, d, h, mi, s, ms] = fields as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return null;
  const wall = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (new Date(wall).getUTCDate() !== d) return null;
  if (offset !== undefined) {
    if (offset.toUpperCase() === 'Z') return new Date(wall);
    const digits = offset.replace(':', '');
    const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5) || 0);
    return new Date(wall - (digits[0] === '-' ? -1 : 1) * minutes * 60_000);
  }
  return new Date(wall - zoneOffsetMs(wall, timezone));
}

/** How far the zone's wall clock is ahead of UTC around this instant (two passes settle DST edges). */
function zoneOffsetMs(wall: number, timezone: string): number {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const at = (t: number) => {
    const p = Object.fromEntries(format.formatToParts(new Date(t)).map((x) => [x.type, x.value]));
    return Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!) - t;
  };
  const first = at(wall);
  return at(wall - first);
}
