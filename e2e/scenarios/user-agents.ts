/**
 * User agents the scenarios send, each with the family the pipeline must count it under
 * (ua-parser-js with its crawler and CLI extensions; `Other` when nothing is recognised).
 */
export const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0';
export const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
export const CURL = 'curl/7.88.1';

export const USER_AGENTS: ReadonlyArray<readonly [userAgent: string, family: string]> = [
  [CHROME, 'Chrome'],
  [FIREFOX, 'Firefox'],
  [GOOGLEBOT, 'Googlebot'],
  [CURL, 'curl'],
  ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15', 'Safari'],
  ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91', 'Edge'],
  ['Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1', 'Mobile Safari'],
  ['Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', 'bingbot'],
  ['Wget/1.21.3', 'Wget'],
  ['python-requests/2.31.0', 'python-requests'],
  ['', 'Other'],
  ['zqx-9', 'Other'],
];

export const FAMILY_OF: ReadonlyMap<string, string> = new Map(USER_AGENTS);

/** The first `n` user agents of the table (the four of scenario 001 come first). */
export function userAgentTable(n = USER_AGENTS.length): ReadonlyMap<string, string> {
  return new Map(USER_AGENTS.slice(0, n));
}
