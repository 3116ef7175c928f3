// Times a cashier reads (a receipt, a refused offline sale) in the shop's time zone, which
// the service gives with the till's profile (`time_zone`), not in the tablet's own: a
// tablet left on UTC must not print a sale made at 09:30 in Beijing as 01:30.

const two = (n) => String(n).padStart(2, "0");

/** "YYYY-MM-DD HH:MM" of `when` (a Date, ISO text or milliseconds) in `timeZone`; in the
 * tablet's own zone when none is known yet (a till paired before the service said it). */
export function localStamp(when, timeZone) {
  const moment = when instanceof Date ? when : new Date(when);
  if (timeZone) {
    try {
      const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
        timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit",
      }).formatToParts(moment).map((p) => [p.type, p.value]));
      return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
    } catch {
      // A zone this browser does not know: the tablet's own time, rather than nothing.
    }
  }
  return `${moment.getFullYear()}-${two(moment.getMonth() + 1)}-${two(moment.getDate())} ${
    two(moment.getHours())}:${two(moment.getMinutes())}`;
}
