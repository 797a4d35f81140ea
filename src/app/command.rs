//! One command enum drives the menus, the keyboard shortcuts and the command palette (Ctrl+K):
//! a screen never changes state in place, it pushes a [`UiCommand`] that the app runs once per
//! frame.

use egui::{Key, KeyboardShortcut, Modifiers};

/// The app's modes (the top bar's switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Operator,
    Review,
    Wall,
    Briefing,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Operator, Mode::Review, Mode::Wall, Mode::Briefing];

    pub fn label_ru(self) -> &'static str {
        match self {
            Mode::Operator => "Оператор",
            Mode::Review => "Обзор",
            Mode::Wall => "Стена",
            Mode::Briefing => "Брифинг",
        }
    }
}

/// Everything a person can ask the app to do from a menu, a key or the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UiCommand {
    SwitchMode(Mode),
    OpenPalette,
    OpenSettings,
    FocusSearch,
    NextRow,
    PreviousRow,
    ToggleSelection,
    SelectAll,
    ClearSelection,
    OpenCase,
    Close,
    NextTab,
    PreviousTab,
    Take,
    Assign,
    Classify,
    AcceptSuggestion,
    Route,
    Escalate,
    Extend,
    MergeIntoProblem,
    MarkDuplicate,
    AddNote,
    Answer,
    ClearMunicipality,
    ShowWholeRegion,
    ToggleHeat,
    ToggleAreas,
    ToggleProblems,
    ToggleAppeals,
    /// The briefing's next and previous slide (arrows, Page Down/Up: a presenter's clicker).
    NextSlide,
    PreviousSlide,
    /// The briefing as a PDF file (a one-page summary and an appendix per block).
    ExportPdf,
    /// The screen as it is now, as a PNG file.
    ExportPng,
    ToggleFullscreen,
    /// The briefing's figures computed again (it holds still otherwise).
    Refresh,
}

impl UiCommand {
    /// Every command, in the palette's order.
    pub const ALL: &'static [UiCommand] = &[
        UiCommand::SwitchMode(Mode::Operator),
        UiCommand::SwitchMode(Mode::Review),
        UiCommand::SwitchMode(Mode::Wall),
        UiCommand::SwitchMode(Mode::Briefing),
        UiCommand::OpenSettings,
        UiCommand::FocusSearch,
        UiCommand::OpenCase,
        UiCommand::Take,
        UiCommand::Assign,
        UiCommand::Classify,
        UiCommand::AcceptSuggestion,
        UiCommand::Route,
        UiCommand::Escalate,
        UiCommand::Extend,
        UiCommand::MergeIntoProblem,
        UiCommand::MarkDuplicate,
        UiCommand::AddNote,
        UiCommand::Answer,
        UiCommand::SelectAll,
        UiCommand::ClearSelection,
        UiCommand::NextTab,
        UiCommand::PreviousTab,
        UiCommand::ClearMunicipality,
        UiCommand::ShowWholeRegion,
        UiCommand::ToggleHeat,
        UiCommand::ToggleAreas,
        UiCommand::ToggleProblems,
        UiCommand::ToggleAppeals,
        UiCommand::NextRow,
        UiCommand::PreviousRow,
        UiCommand::ToggleSelection,
        UiCommand::Close,
        UiCommand::NextSlide,
        UiCommand::PreviousSlide,
        UiCommand::ExportPdf,
        UiCommand::ExportPng,
        UiCommand::ToggleFullscreen,
        UiCommand::Refresh,
    ];

    pub fn label_ru(self) -> &'static str {
        match self {
            UiCommand::SwitchMode(Mode::Operator) => "Режим «Оператор»",
            UiCommand::SwitchMode(Mode::Review) => "Режим «Обзор»",
            UiCommand::SwitchMode(Mode::Wall) => "Режим «Стена»",
            UiCommand::SwitchMode(Mode::Briefing) => "Режим «Брифинг»",
            UiCommand::OpenPalette => "Палитра команд",
            UiCommand::OpenSettings => "Настройки",
            UiCommand::FocusSearch => "Поиск в очереди",
            UiCommand::NextRow => "Следующее обращение",
            UiCommand::PreviousRow => "Предыдущее обращение",
            UiCommand::ToggleSelection => "Отметить обращение",
            UiCommand::SelectAll => "Отметить все в очереди",
            UiCommand::ClearSelection => "Снять отметки",
            UiCommand::OpenCase => "Открыть обращение",
            UiCommand::Close => "Закрыть",
            UiCommand::NextTab => "Следующая вкладка очереди",
            UiCommand::PreviousTab => "Предыдущая вкладка очереди",
            UiCommand::Take => "Взять в работу",
            UiCommand::Assign => "Назначить исполнителя…",
            UiCommand::Classify => "Классифицировать…",
            UiCommand::AcceptSuggestion => "Принять предложенную тему",
            UiCommand::Route => "Направить в организацию…",
            UiCommand::Escalate => "Эскалировать руководителю блока",
            UiCommand::Extend => "Продлить срок…",
            UiCommand::MergeIntoProblem => "Включить в проблему…",
            UiCommand::MarkDuplicate => "Отметить как дубль…",
            UiCommand::AddNote => "Добавить заметку…",
            UiCommand::Answer => "Ответить…",
            UiCommand::ClearMunicipality => "Все муниципалитеты",
            UiCommand::ShowWholeRegion => "Показать всю область",
            UiCommand::ToggleHeat => "Слой: тепловая карта",
            UiCommand::ToggleAreas => "Слой: муниципалитеты по показателю",
            UiCommand::ToggleProblems => "Слой: проблемы",
            UiCommand::ToggleAppeals => "Слой: обращения",
            UiCommand::NextSlide => "Брифинг: следующий слайд",
            UiCommand::PreviousSlide => "Брифинг: предыдущий слайд",
            UiCommand::ExportPdf => "Брифинг в PDF…",
            UiCommand::ExportPng => "Снимок экрана в PNG",
            UiCommand::ToggleFullscreen => "Во весь экран",
            UiCommand::Refresh => "Брифинг: пересчитать",
        }
    }

    /// The key that runs it, if any. Single keys work only when no text field has focus.
    pub fn shortcut(self) -> Option<KeyboardShortcut> {
        let plain = |key| Some(KeyboardShortcut::new(Modifiers::NONE, key));
        let ctrl = |key| Some(KeyboardShortcut::new(Modifiers::COMMAND, key));
        match self {
            UiCommand::SwitchMode(Mode::Operator) => ctrl(Key::Num1),
            UiCommand::SwitchMode(Mode::Review) => ctrl(Key::Num2),
            UiCommand::SwitchMode(Mode::Wall) => ctrl(Key::Num3),
            UiCommand::SwitchMode(Mode::Briefing) => ctrl(Key::Num4),
            UiCommand::NextSlide => plain(Key::ArrowRight),
            UiCommand::PreviousSlide => plain(Key::ArrowLeft),
            UiCommand::ExportPdf => ctrl(Key::P),
            UiCommand::ExportPng => ctrl(Key::S),
            UiCommand::ToggleFullscreen => plain(Key::F11),
            UiCommand::Refresh => plain(Key::F5),

            UiCommand::OpenPalette => ctrl(Key::K),
            UiCommand::OpenSettings => ctrl(Key::Comma),
            UiCommand::FocusSearch => ctrl(Key::F),
            UiCommand::NextRow => plain(Key::J),
            UiCommand::PreviousRow => plain(Key::K),
            UiCommand::ToggleSelection => plain(Key::Space),
            UiCommand::SelectAll => ctrl(Key::A),
            UiCommand::ClearSelection => ctrl(Key::D),
            UiCommand::OpenCase => plain(Key::Enter),
            UiCommand::Close => plain(Key::Escape),
            UiCommand::NextTab => plain(Key::CloseBracket),
            UiCommand::PreviousTab => plain(Key::OpenBracket),
            UiCommand::Take => plain(Key::T),
            UiCommand::Assign => plain(Key::G),
            UiCommand::Classify => plain(Key::C),
            UiCommand::AcceptSuggestion => plain(Key::A),
            UiCommand::Route => plain(Key::R),
            UiCommand::Escalate => plain(Key::E),
            UiCommand::Extend => plain(Key::X),
            UiCommand::MergeIntoProblem => plain(Key::M),
            UiCommand::MarkDuplicate => plain(Key::D),
            UiCommand::AddNote => plain(Key::N),
            UiCommand::Answer => plain(Key::O),
            UiCommand::ClearMunicipality => plain(Key::Backspace),
            UiCommand::ShowWholeRegion => plain(Key::Home),
            UiCommand::ToggleHeat => plain(Key::Num1),
            UiCommand::ToggleAreas => plain(Key::Num2),
            UiCommand::ToggleProblems => plain(Key::Num3),
            UiCommand::ToggleAppeals => plain(Key::Num4),
        }
    }

    /// The shortcut as people read it ("Ctrl+K", "E").
    pub fn shortcut_text(self, ctx: &egui::Context) -> String {
        self.shortcut()
            .map(|s| ctx.format_shortcut(&s))
            .unwrap_or_default()
    }

    /// Whether the shortcut is a key without modifiers (which a focused text field takes).
    fn is_plain(self) -> bool {
        self.shortcut().is_some_and(|s| s.modifiers.is_none())
    }
}

/// The commands whose keys were pressed this frame, in the order the keys came (J then Enter
/// moves, then opens). Plain keys are skipped while a text field has the keyboard; Escape is
/// always passed on (it closes what is open). The arrow keys move through the queue as J and K.
pub fn pressed(ctx: &egui::Context) -> Vec<UiCommand> {
    let typing = ctx.egui_wants_keyboard_input();
    let mut out = Vec::new();
    ctx.input_mut(|input| {
        // Each key press is one command (J J moves two rows); the events that became commands
        // are taken out so that no widget acts on them as well.
        let mut used = Vec::new();
        for (index, event) in input.events.iter().enumerate() {
            let egui::Event::Key {
                key,
                pressed: true,
                modifiers,
                ..
            } = event
            else {
                continue;
            };
            let command = match key {
                Key::ArrowDown if modifiers.is_none() => Some(UiCommand::NextRow),
                Key::ArrowUp if modifiers.is_none() => Some(UiCommand::PreviousRow),
                // A presenter's clicker sends Page Down / Page Up.
                Key::PageDown if modifiers.is_none() => Some(UiCommand::NextSlide),
                Key::PageUp if modifiers.is_none() => Some(UiCommand::PreviousSlide),
                _ => UiCommand::ALL
                    .iter()
                    .copied()
                    .chain([UiCommand::OpenPalette])
                    .find(|c| {
                        c.shortcut().is_some_and(|s| {
                            s.logical_key == *key && modifiers.matches_logically(s.modifiers)
                        })
                    }),
            };
            let Some(command) = command else {
                continue;
            };
            let plain = command.is_plain()
                || matches!(
                    key,
                    Key::ArrowDown | Key::ArrowUp | Key::PageDown | Key::PageUp
                );
            if typing && plain && *key != Key::Escape {
                continue;
            }
            out.push(command);
            used.push(index);
        }
        let mut index = 0;
        input.events.retain(|_| {
            let keep = !used.contains(&index);
            index += 1;
            keep
        });
    });
    out
}

/// The command palette: type to filter, Enter runs the first match, Escape closes.
#[derive(Debug, Default)]
pub struct Palette {
    pub query: String,
}

impl Palette {
    /// Draws the palette; returns the command chosen, and whether it should close.
    pub fn ui(&mut self, ctx: &egui::Context) -> (Option<UiCommand>, bool) {
        let mut chosen = None;
        let mut close = false;
        let modal = egui::Modal::new(egui::Id::unique("command_palette")).show(ctx, |ui| {
            ui.set_width(460.0);
            ui.heading("Команды");
            let edit = ui.add(
                egui::TextEdit::singleline(&mut self.query)
                    .hint_text("Начните вводить название команды…")
                    .desired_width(f32::INFINITY),
            );
            edit.request_focus();
            let words: Vec<String> = self
                .query
                .split_whitespace()
                .map(str::to_lowercase)
                .collect();
            let matches: Vec<UiCommand> = UiCommand::ALL
                .iter()
                .copied()
                .filter(|c| {
                    let label = c.label_ru().to_lowercase();
                    words.iter().all(|w| label.contains(w.as_str()))
                })
                .collect();
            egui::ScrollArea::vertical()
                .max_height(360.0)
                .show(ui, |ui| {
                    for command in &matches {
                        ui.horizontal(|ui| {
                            if ui.button(command.label_ru()).clicked() {
                                chosen = Some(*command);
                            }
                            ui.with_layout(
                                egui::Layout::right_to_left(egui::Align::Center),
                                |ui| ui.weak(command.shortcut_text(ui.ctx())),
                            );
                        });
                    }
                    if matches.is_empty() {
                        ui.weak("Нет такой команды");
                    }
                });
            if ui.input(|i| i.key_pressed(Key::Enter)) {
                chosen = matches.first().copied();
            }
        });
        if modal.should_close() || ctx.input(|i| i.key_pressed(Key::Escape)) {
            close = true;
        }
        if chosen.is_some() {
            close = true;
        }
        (chosen, close)
    }
}
