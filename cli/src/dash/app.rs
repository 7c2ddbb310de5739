//! The live dashboard: the terminal in raw mode on the alternate screen,
//! a redraw on every key, resize and refresh, and the terminal given back
//! as it was on every way out (quit, error, panic).

use std::io::{self, Stdout};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use minetsdb_collectors::config::Thresholds;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;

use super::model::{self, Model, Span};
use super::view::{self, Theme, View};
use crate::time::now_ms;

/// The dashboard's state between frames.
pub struct App {
    dir: PathBuf,
    db_label: String,
    thresholds: Thresholds,
    /// `--time`: a frozen instant instead of now.
    fixed_at: Option<i64>,
    span: Span,
    interval: Duration,
    theme: Theme,
    selected: usize,
    model: Option<Model>,
    error: Option<String>,
}

impl App {
    pub fn new(
        dir: PathBuf,
        db_label: String,
        thresholds: Thresholds,
        fixed_at: Option<i64>,
        span: Span,
        interval: Duration,
        theme: Theme,
    ) -> App {
        App {
            dir,
            db_label,
            thresholds,
            fixed_at,
            span,
            interval,
            theme,
            selected: 0,
            model: None,
            error: None,
        }
    }

    /// Reopens the database and gathers a frame; on failure the last
    /// frame stays on screen with the error under it.
    fn refresh(&mut self) -> anyhow::Result<()> {
        let at = self.fixed_at.unwrap_or_else(now_ms);
        let got = super::open(&self.dir)
            .and_then(|db| model::gather(&db, at, self.span, &self.thresholds));
        match got {
            Ok(m) => {
                self.selected = self.selected.min(m.gpus.len().saturating_sub(1));
                self.model = Some(m);
                self.error = None;
                Ok(())
            }
            Err(e) => {
                self.error = Some(format!("{e:#}"));
                Err(e)
            }
        }
    }

    fn select(&mut self, delta: isize) {
        let n = self.model.as_ref().map_or(0, |m| m.gpus.len());
        if n > 0 {
            self.selected = (self.selected as isize + delta).rem_euclid(n as isize) as usize;
        }
    }
}

/// Raw mode and the alternate screen, undone on drop.
struct Screen;

impl Screen {
    fn enter() -> anyhow::Result<Screen> {
        terminal::enable_raw_mode().context("setting the terminal to raw mode")?;
        // From here on, the drop restores whatever part got done.
        let s = Screen;
        execute!(io::stdout(), terminal::EnterAlternateScreen, cursor::Hide)
            .context("entering the alternate screen")?;
        Ok(s)
    }
}

/// Leaves the alternate screen and raw mode; errors ignored, since this
/// runs on the way out (even from a panic) with nothing left to tell.
fn restore() {
    let _ = execute!(io::stdout(), cursor::Show, terminal::LeaveAlternateScreen);
    let _ = terminal::disable_raw_mode();
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Runs the dashboard until q, Esc or Ctrl-C.
pub fn run(mut app: App) -> anyhow::Result<()> {
    // The first frame before touching the terminal: a database that does
    // not open is an ordinary error message, not a flash of a blank screen.
    app.refresh()?;
    // A panic message printed in raw mode on the alternate screen is lost;
    // restore the terminal first, then let the usual hook print it.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    let screen = Screen::enter()?;
    let mut term: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(io::stdout())).context("opening the terminal")?;
    let res = event_loop(&mut app, &mut term);
    drop(term);
    drop(screen);
    let _ = std::panic::take_hook();
    res
}

fn event_loop(app: &mut App, term: &mut Terminal<CrosstermBackend<Stdout>>) -> anyhow::Result<()> {
    let mut next = Instant::now() + app.interval;
    loop {
        if let Some(m) = &app.model {
            let v = View {
                model: m,
                selected: app.selected,
                db: &app.db_label,
                theme: app.theme,
                error: app.error.as_deref(),
            };
            term.draw(|f| view::draw(f, &v)).context("drawing")?;
        }
        let wait = next.saturating_duration_since(Instant::now());
        if !event::poll(wait).context("reading the terminal")? {
            // A failed refresh is on screen; keep going with the old frame.
            let _ = app.refresh();
            next = Instant::now() + app.interval;
            continue;
        }
        match event::read().context("reading the terminal")? {
            Event::Key(k) if k.kind != KeyEventKind::Release => match k.code {
                KeyCode::Char('q') | KeyCode::Esc => return Ok(()),
                KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => return Ok(()),
                KeyCode::Up | KeyCode::Left | KeyCode::Char('k') => app.select(-1),
                KeyCode::Down | KeyCode::Right | KeyCode::Char('j') => app.select(1),
                KeyCode::Char('t') => {
                    app.span = app.span.next();
                    let _ = app.refresh();
                }
                KeyCode::Char('r') => {
                    let _ = app.refresh();
                    next = Instant::now() + app.interval;
                }
                _ => {}
            },
            // Resize and anything else: just redraw (ratatui re-reads the size).
            _ => {}
        }
    }
}
