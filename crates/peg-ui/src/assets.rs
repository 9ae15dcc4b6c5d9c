//! The page's files, embedded: the HTML and CSS as written in `ui/static`, and the script
//! bundled from `ui/src` by `ui/build.mjs` into `ui/dist/app.js` (committed, so the node builds
//! without Node.js).

/// One embedded file.
pub(crate) struct Asset {
    /// Its bytes.
    pub(crate) body: &'static [u8],
    /// Its `Content-Type`.
    pub(crate) content_type: &'static str,
    /// Whether it is the HTML document (which carries the Content Security Policy).
    pub(crate) document: bool,
}

/// The file served at `path` (`/` is the page).
pub(crate) fn asset(path: &str) -> Option<Asset> {
    let (body, content_type, document): (&'static [u8], _, _) = match path {
        "/" | "/index.html" => (
            include_bytes!("../../../ui/static/index.html"),
            "text/html; charset=utf-8",
            true,
        ),
        "/app.js" => (
            include_bytes!("../../../ui/dist/app.js"),
            "text/javascript; charset=utf-8",
            false,
        ),
        "/app.css" => (
            include_bytes!("../../../ui/static/app.css"),
            "text/css; charset=utf-8",
            false,
        ),
        _ => return None,
    };
    Some(Asset {
        body,
        content_type,
        document,
    })
}
