//! `dash --once`: one frame rendered off-screen (ratatui's TestBackend)
//! and printed as lines, plain or with ANSI colours.

use std::fmt::Write as _;

use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::view::{draw, View};

/// The frame of `v` at `width`x`height`, as a buffer.
pub fn render(v: &View<'_>, width: u16, height: u16) -> anyhow::Result<Buffer> {
    let mut term = Terminal::new(TestBackend::new(width, height))?;
    term.draw(|f| draw(f, v))?;
    Ok(term.backend().buffer().clone())
}

/// SGR foreground code of the colours the view uses.
fn fg_code(c: Color) -> Option<u8> {
    Some(match c {
        Color::Red => 31,
        Color::Green => 32,
        Color::Yellow => 33,
        Color::DarkGray => 90,
        _ => return None,
    })
}

/// The buffer's lines, trailing spaces trimmed; with `ansi`, colour and
/// bold as SGR escapes, reset at each line's end.
pub fn to_text(buf: &Buffer, ansi: bool) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut cur: (Option<u8>, bool) = (None, false);
        // Width-2 symbols (none in our text, but a name could hold one)
        // occupy the next cell too; skipping it keeps columns aligned.
        let mut skip = 0;
        for x in area.left()..area.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let Some(cell) = buf.cell((x, y)) else {
                continue;
            };
            if ansi {
                let want = (fg_code(cell.fg), cell.modifier.contains(Modifier::BOLD));
                if want != cur {
                    line.push_str("\x1b[0m");
                    if want.1 {
                        line.push_str("\x1b[1m");
                    }
                    if let Some(c) = want.0 {
                        let _ = write!(line, "\x1b[{c}m");
                    }
                    cur = want;
                }
            }
            let sym = cell.symbol();
            skip = unicode_cols(sym).saturating_sub(1);
            line.push_str(sym);
        }
        if ansi {
            line.push_str("\x1b[0m");
            // Trim spaces before the final reset only.
            let body = line.trim_end_matches("\x1b[0m").trim_end();
            out.push_str(body);
            out.push_str("\x1b[0m");
        } else {
            out.push_str(line.trim_end());
        }
        out.push('\n');
    }
    out
}

/// Columns a cell's symbol takes: ratatui stores a wide character in one
/// cell and blanks the next.
fn unicode_cols(s: &str) -> usize {
    ratatui::text::Span::raw(s).width()
}
