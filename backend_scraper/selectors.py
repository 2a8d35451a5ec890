"""Every selector and pattern the scraper relies on, in one place (Google changes its page;
this is the file to update). Each carries what it means, for the error that names it."""

from __future__ import annotations

import re

# The grid: one link per photo, to ./photo/<id>; the id is what Google calls the media item.
PHOTO_LINK = 'a[href*="/photo/"]'
PHOTO_LINK_MEANING = "photo links"
PHOTO_ID = re.compile(r"/photo/([A-Za-z0-9_-]{8,200})(?:[/?#]|$)")
# Inside a link: the thumbnail, a background image (Google Photos) or an <img>.
THUMBNAIL_STYLE = '[style*="background-image"]'
THUMBNAIL_IMG = "img[src]"
THUMBNAIL_MEANING = "thumbnail image in a photo link"
BACKGROUND_URL = re.compile(r"""url\(\s*["']?(.*?)["']?\s*\)""")
# The label a link carries (aria-label), e.g. "Photo - Landscape - Mar 3, 2021, 10:15:21 AM";
# a detail view may add the file name and the dimensions.
LABEL_ATTRIBUTES = ("aria-label", "title")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
LABEL_DATE = re.compile(
    r"(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? (?P<day>\d{1,2}), "
    r"(?P<year>\d{4})(?:,? (?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?\s*(?P<ampm>[AP]M)?)?"
)
LABEL_DIMENSIONS = re.compile(r"(?<!\d)(\d{2,6})\s*[×x]\s*(\d{2,6})(?!\d)")
# Labels separate their parts with " - " or " · "; a part that is a file name is one.
LABEL_SEPARATOR = re.compile(r"\s+[-–·|]\s+")
LABEL_FILENAME = re.compile(
    r"[^/\\]{1,200}\.(?:jpe?g|png|gif|webp|heic|heif|tiff?|bmp|dng|avif)", re.IGNORECASE
)
# The image address's sizing suffix (=w256-h192-no, =s512-c ...) at the end of the path; the
# full-size original is "=d" (download, EXIF kept) or "=s0".
SIZE_SUFFIX = re.compile(r"=[A-Za-z0-9_-]*$")
FULL_SIZE = "=d"
# Where Google sends a browser that is not signed in.
SIGN_IN_HOSTS = ("accounts.google.com",)
# The JavaScript that reads the grid in one call: (link, label, background style, img src).
READ_GRID = """([link, style, img, attrs]) => Array.from(document.querySelectorAll(link)).map(a => {
  const bg = a.matches(style) ? a : a.querySelector(style);
  const im = a.querySelector(img);
  const inner = a.querySelector('[aria-label]');
  const label = attrs.map(n => a.getAttribute(n)).find(v => v) ||
                (inner ? inner.getAttribute('aria-label') : '') || '';
  return {href: a.href, label: label,
          style: bg ? bg.getAttribute('style') : '', src: im ? im.src : ''};
})"""
SCROLL_TO_LAST = """(link) => {
  const links = document.querySelectorAll(link);
  if (links.length) links[links.length - 1].scrollIntoView({block: 'end'});
  window.scrollBy(0, window.innerHeight);
  return links.length;
}"""
