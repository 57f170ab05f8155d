//! The header bar (account, server, TLS, connection state, counts) and the
//! TLS warning line under it.

use super::*;

pub fn tls_label(tls: &TlsState) -> String {
    let (how, d) = match tls {
        TlsState::None => return "NO TLS!".to_string(),
        TlsState::Implicit(d) => ("TLS", d),
        TlsState::StartTls(d) => ("STLS", d),
    };
    match d.trust {
        CertTrust::Verified => format!("{how} ✓verified"),
        CertTrust::Pinned => format!("{how} ✓pinned"),
        CertTrust::Unverified => format!("{how} UNVERIFIED!"),
    }
}

pub fn conn_label(c: &ConnState) -> String {
    match c {
        ConnState::Starting => "starting".to_string(),
        ConnState::Connecting { attempt } if *attempt > 1 => {
            format!("connecting (try {attempt})…")
        }
        ConnState::Connecting { .. } => "connecting…".to_string(),
        ConnState::Listing => "listing…".to_string(),
        ConnState::LoadingPreviews { done, total } => format!("loading previews {done}/{total}"),
        ConnState::Idle => "idle".to_string(),
        ConnState::Reconnecting {
            attempt,
            delay_secs: 0,
        } => format!("reconnecting now (try {attempt})…"),
        ConnState::Reconnecting {
            attempt,
            delay_secs,
        } => format!("reconnecting in {delay_secs}s (try {attempt})"),
        ConnState::Released => "released".to_string(),
        ConnState::Offline => "offline".to_string(),
        ConnState::Closing => "closing…".to_string(),
    }
}

pub(super) fn header(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    buf.set_style(area, t.header);
    // (text, style, priority): when the line is too narrow, the lowest
    // priority goes first; safety and counts stay.
    let mut segs: Vec<(String, Style, u8)> = Vec::new();
    let account = &app.options().account_label;
    if !account.is_empty() {
        segs.push((text::clean_line(account), t.header.patch(t.title), 2));
    }
    match app.connection() {
        Some(info) => {
            segs.push((info.server.clone(), t.header, 1));
            let tls_style = if app.tls_warning().is_some() {
                t.header.patch(t.warning)
            } else {
                t.header
            };
            segs.push((tls_label(&info.tls), tls_style, 9));
        }
        None => segs.push(("not connected".to_string(), t.header, 9)),
    }
    let conn = conn_label(app.conn_state());
    segs.push((
        if app.list_is_cached() {
            format!("cached · {conn}")
        } else {
            conn
        },
        t.header,
        8,
    ));
    segs.push((
        format!(
            "{} msg{}, {}",
            app.rows().len(),
            if app.rows().len() == 1 { "" } else { "s" },
            human_size(app.total_size())
        ),
        t.header,
        7,
    ));
    let marked = app.marked_count();
    if marked > 0 {
        segs.push((format!("{marked} to delete"), t.header.patch(t.danger), 9));
    }
    segs.push((format!("sort {}", app.sort_label()), t.header, 3));
    let total = |segs: &[(String, Style, u8)]| -> usize {
        1 + segs.iter().map(|(s, _, _)| width(s) + 3).sum::<usize>()
    };
    while total(&segs) > area.width as usize + 3 && segs.len() > 1 {
        let lowest = segs
            .iter()
            .enumerate()
            .min_by_key(|(i, (_, _, p))| (*p, usize::MAX - i))
            .map(|(i, _)| i)
            .unwrap_or(0);
        segs.remove(lowest);
    }
    let mut spans = vec![(" ".to_string(), t.header)];
    for (i, (s, st, _)) in segs.into_iter().enumerate() {
        if i > 0 {
            spans.push((" │ ".to_string(), t.header));
        }
        spans.push((s, st));
    }
    put_spans(buf, area, &spans);
}

pub(super) fn warning(buf: &mut Buffer, area: Rect, app: &App, t: &Theme) {
    if area.height == 0 {
        return;
    }
    if let Some(w) = app.tls_warning() {
        buf.set_style(area, t.warning);
        put(
            buf,
            area.x,
            area.y,
            &format!(" ⚠ {w}"),
            area.width,
            t.warning,
        );
    }
}
