//! Command-line interface: `tsur` opens the app; `tsur demo-data` and `tsur stats` serve scripts.

use anyhow::{Context, Result, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tsur_core::analytics::report::Report;
use tsur_core::analytics::{Filter, ReadModel};
use tsur_core::demo::{DemoParams, write_demo_replica};
use tsur_core::pack::RegionPack;
use tsur_core::stats::Stats;
use tsur_core::store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "tsur",
    version,
    about = "Ситуационный центр ЦУР: обращения граждан, сроки, карта и показатели",
    long_about = "Ситуационный центр ЦУР: обращения граждан, сроки, карта и показатели.\n\n\
        Без команды открывает окно приложения. Если сервер не настроен, приложение открывает \
        демо-реплику в каталоге данных пользователя и создаёт её при первом запуске."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Открыть эту реплику вместо демо-реплики (без сервера — только чтение; с --server — синхронизировать в неё)
    #[arg(long, value_name = "PATH", global = false)]
    pub db: Option<PathBuf>,
    /// Синхронизироваться с этим сервером ЦУР вместо встроенного демо-сервера
    #[arg(long, value_name = "URL", requires = "token")]
    pub server: Option<String>,
    /// Токен доступа к серверу (вместе с --server)
    #[arg(long, value_name = "T", requires = "server")]
    pub token: Option<String>,
    #[command(flatten)]
    pub ca: CaCertArg,
    #[command(flatten)]
    pub pack: PackArg,
    /// Режим видеостены: без элементов управления, крупный шрифт, сцены по очереди, тревоги; без персональных данных
    #[arg(long)]
    pub wall: bool,
    /// Файл настроек стены (TOML: окно и экраны, сцены и их длительность, пороги тревог); см. README
    #[arg(long, value_name = "FILE", requires = "wall")]
    pub wall_config: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CaCertArg {
    /// Доверять сертификатам из этого файла PEM (свой удостоверяющий центр ЦУР или самоподписанный сертификат сервера) для https://
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PackArg {
    /// Каталог пакета региона (по умолчанию — Челябинская область из поставки)
    #[arg(long, value_name = "DIR", global = true)]
    pub pack: Option<PathBuf>,
}

impl PackArg {
    pub fn load(&self) -> Result<RegionPack> {
        let dir = crate::paths::pack_dir(self.pack.as_deref());
        RegionPack::load(&dir).map_err(anyhow::Error::new)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Создать демо-реплику: N обращений за 12 месяцев до даты --now
    DemoData(DemoDataArgs),
    /// Показать сводку по реплике (всего, просрочено, по блокам, статусам, режимам, муниципалитетам)
    Stats(StatsArgs),
    /// Синхронизировать реплику с сервером ЦУР: отправить действия из очереди и получить изменения
    Sync(SyncArgs),
    /// Показатели: сроки, время ответа, удовлетворённость, рейтинг организаций, проблемы, всплески
    Kpi(KpiArgs),
    /// Отчёт в PDF без окна и видеокарты: брифинг для куратора (сводка на одной странице, карта и приложение по блокам)
    Report(ReportArgs),
}

/// The kinds of `tsur report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportKind {
    /// Брифинг для куратора
    Briefing,
}

/// The periods of `tsur report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeriodArg {
    Week,
    Month,
    Quarter,
    Year,
    All,
}

impl From<PeriodArg> for crate::views::Period {
    fn from(p: PeriodArg) -> Self {
        use crate::views::Period;
        match p {
            PeriodArg::Week => Period::Week,
            PeriodArg::Month => Period::Month,
            PeriodArg::Quarter => Period::Quarter,
            PeriodArg::Year => Period::Year,
            PeriodArg::All => Period::All,
        }
    }
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Файл реплики
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Вид отчёта
    #[arg(long, value_enum, default_value = "briefing")]
    pub kind: ReportKind,
    /// Куда записать PDF (файл заменяется только готовым отчётом)
    #[arg(long, value_name = "FILE.pdf")]
    pub out: PathBuf,
    /// Период, оканчивающийся моментом --now
    #[arg(long, value_enum, default_value = "week")]
    pub period: PeriodArg,
    /// Момент расчёта: ГГГГ-ММ-ДД (полдень по местному времени) или RFC 3339 (по умолчанию — сейчас)
    #[arg(long, value_name = "WHEN")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct KpiArgs {
    /// Файл реплики
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Вывести JSON (ключи описаны в README)
    #[arg(long)]
    pub json: bool,
    /// Начало периода по дате поступления, включительно (ГГГГ-ММ-ДД, местное время); без периода считаются все данные
    #[arg(long, value_name = "DATE")]
    pub from: Option<NaiveDate>,
    /// Конец периода, включительно (ГГГГ-ММ-ДД)
    #[arg(long, value_name = "DATE")]
    pub to: Option<NaiveDate>,
    /// Только этот блок: код (zhkh) или название (ЖКХ)
    #[arg(long, value_name = "B")]
    pub block: Option<String>,
    /// Только этот муниципалитет: код ОКТМО или название
    #[arg(long, value_name = "M")]
    pub municipality: Option<String>,
    /// Момент расчёта: ГГГГ-ММ-ДД (полдень по местному времени) или RFC 3339 (по умолчанию — сейчас)
    #[arg(long, value_name = "WHEN")]
    pub now: Option<String>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Адрес сервера, например http://127.0.0.1:8480
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Токен доступа (выдаётся командой tsur-server token create)
    #[arg(long, value_name = "T")]
    pub token: String,
    /// Файл реплики (создаётся, если его нет)
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Один проход: выйти с кодом 0, когда реплика догнала сервер, и с ненулевым, если не удалось
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub ca: CaCertArg,
}

#[derive(Debug, Args)]
pub struct DemoDataArgs {
    /// Файл реплики, который будет создан
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Сколько обращений создать (ровно столько)
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub appeals: u64,
    /// Зерно генератора: одно и то же зерно и --now дают одинаковые данные
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Последний день демо-года, ГГГГ-ММ-ДД (по умолчанию — сегодня); «сейчас» — полдень этого дня по местному времени
    #[arg(long, value_name = "DATE")]
    pub now: Option<NaiveDate>,
    /// Заменить существующий файл (заменяется только после успешной генерации)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Файл реплики
    #[arg(long, value_name = "PATH")]
    pub db: PathBuf,
    /// Вывести JSON (ключи описаны в README)
    #[arg(long)]
    pub json: bool,
    /// Момент, на который считать просрочку: ГГГГ-ММ-ДД (полдень по местному времени) или RFC 3339 (по умолчанию — сейчас)
    #[arg(long, value_name = "WHEN")]
    pub now: Option<String>,
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => {
            // `--wall`, or a machine set up as a wall in the settings.
            let saved = crate::settings::SettingsStore::default_location()
                .and_then(|store| store.load().ok())
                .filter(|s| s.start_as_wall);
            let saved_config = saved
                .as_ref()
                .map(|s| s.wall_config.trim())
                .filter(|path| !path.is_empty())
                .map(PathBuf::from);
            let wall = match (
                cli.wall || saved.is_some(),
                cli.wall_config.or(saved_config),
            ) {
                (false, _) => None,
                (true, None) => Some(crate::wall::WallConfig::default()),
                (true, Some(path)) => Some(crate::wall::WallConfig::load(&path)?),
            };
            crate::app::run_native(
                cli.db,
                cli.server.zip(cli.token),
                cli.ca.ca_cert,
                cli.pack.pack,
                wall,
            )
        }
        Some(Command::Report(args)) => {
            let pages = report(&cli.pack, &args)?;
            eprintln!("отчёт записан: {} ({pages} стр.)", args.out.display());
            Ok(())
        }
        Some(Command::DemoData(args)) => demo_data(&cli.pack, &args),
        Some(Command::Sync(mut args)) => {
            // `tsur --ca-cert F sync …` means the same as `tsur sync --ca-cert F …`.
            args.ca.ca_cert = args.ca.ca_cert.or(cli.ca.ca_cert);
            sync(&args)
        }
        Some(Command::Kpi(args)) => {
            let out = kpi(&cli.pack, &args)?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            Ok(())
        }
        Some(Command::Stats(args)) => {
            let out = stats(&cli.pack, &args)?;
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(out.as_bytes())?;
            Ok(())
        }
    }
}

/// The largest demo replica `demo-data` makes (about 15 GB on disk).
pub const MAX_DEMO_APPEALS: u64 = 10_000_000;

fn demo_data(pack: &PackArg, args: &DemoDataArgs) -> Result<()> {
    let pack = pack.load()?;
    if args.appeals == 0 || args.appeals > MAX_DEMO_APPEALS {
        bail!(
            "--appeals должно быть от 1 до {MAX_DEMO_APPEALS}, а не {}",
            args.appeals
        );
    }
    let today = Utc::now().with_timezone(&pack.offset()).date_naive();
    let params = DemoParams {
        appeals: args.appeals,
        seed: args.seed,
        now_utc: DemoParams::now_for_date(&pack, args.now.unwrap_or(today)),
    };
    let started = Instant::now();
    let mut bar = crate::progress::TerminalProgress::new("создаётся демо-реплика", "обращений");
    let mut progress = |done: u64, total: u64| {
        bar.update(done, total);
        true
    };
    let summary = write_demo_replica(&pack, &params, &args.db, args.force, &mut progress)?;
    bar.finish();
    eprintln!(
        "готово за {:.1} с: {} обращений, {} событий, {} ответов, {} проблем, {} повторных, {} с дефектами → {}",
        started.elapsed().as_secs_f64(),
        summary.appeals,
        summary.events,
        summary.answers,
        summary.problems,
        summary.repeats,
        summary.dirty,
        args.db.display()
    );
    Ok(())
}

fn sync(args: &SyncArgs) -> Result<()> {
    let client = crate::sync::SyncClient::with_ca_certificate(
        &args.server,
        &args.token,
        args.ca.ca_cert.as_deref(),
    )?;
    let mut store = Store::open(&args.db)?;
    let mut backoff_secs = 1;
    loop {
        // The bar counts this pass's changes, from the cursor the replica already had.
        let start = store.cursor()?;
        let mut bar = crate::progress::TerminalProgress::new("синхронизация", "изменений");
        let mut progress = |cursor: i64, latest: i64| {
            if latest > start {
                bar.update((cursor - start).max(0) as u64, (latest - start) as u64);
            }
        };
        let long_poll_secs = if args.once { 0 } else { 25 };
        let result = crate::sync::sync_once(&client, &mut store, long_poll_secs, &mut progress);
        bar.finish();
        match result {
            Ok(report) => {
                let p = &report.pushed;
                eprintln!(
                    "реплика догнала сервер: курсор {}, записано {}, в карантине {}; действия: применено {}, повторов {}, конфликтов {}, отклонено {}",
                    report.cursor,
                    report.written,
                    report.quarantined,
                    p.applied,
                    p.duplicate,
                    p.conflict,
                    p.rejected
                );
                if args.once {
                    return Ok(());
                }
                backoff_secs = 1;
            }
            Err(e) if args.once => return Err(e.into()),
            Err(e) => {
                eprintln!("синхронизация не удалась: {e}; повтор через {backoff_secs} с");
                std::thread::sleep(std::time::Duration::from_secs(backoff_secs));
                backoff_secs = (backoff_secs * 2).min(60);
            }
        }
    }
}

/// Writes `tsur report`'s PDF; returns its pages. Needs no window and no GPU: the map is drawn
/// from the data. Like the app, it gives a replica without one its id (once, in `sync_state`)
/// and keeps its read model beside it (`.model`) for a fast next start; no appeal is changed.
pub fn report(pack: &PackArg, args: &ReportArgs) -> Result<usize> {
    let pack = pack.load()?;
    let now = parse_now(&pack, args.now.as_deref())?;
    if args
        .out
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("pdf"))
    {
        bail!("--out {}: ожидается файл .pdf", args.out.display());
    }
    // Checks the file is a replica before anything else touches it.
    drop(open_replica(&args.db)?);
    let ReportKind::Briefing = args.kind;
    let clock: tsur_core::clock::SharedClock =
        std::sync::Arc::new(tsur_core::clock::FixedClock(now));
    let data =
        crate::views::briefing_data(args.db.clone(), pack.clone(), clock, args.period.into())?;
    let bytes = crate::briefing::pdf(&data, &pack)?;
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("не удалось создать каталог {}", dir.display()))?;
    }
    crate::settings::write_atomically(&args.out, &bytes, false)
        .with_context(|| format!("не удалось записать {}", args.out.display()))?;
    Ok(1 + data.blocks.len())
}

/// Parses `--now`: a date (noon local time) or an RFC 3339 instant.
pub fn parse_now(pack: &RegionPack, raw: Option<&str>) -> Result<DateTime<Utc>> {
    let Some(raw) = raw else {
        return Ok(Utc::now());
    };
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Ok(DemoParams::now_for_date(pack, date));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .with_context(|| {
            format!("--now «{raw}»: ожидается дата ГГГГ-ММ-ДД или момент RFC 3339, например 2026-03-01T09:00:00+05:00")
        })
}

/// Computes the stats text (`--json` or a readable table).
pub fn stats(pack: &PackArg, args: &StatsArgs) -> Result<String> {
    let pack = pack.load()?;
    let now = parse_now(&pack, args.now.as_deref())?;
    let store = open_replica(&args.db)?;
    let stats = Stats::compute(&store, &pack, now)?;
    if args.json {
        let mut out = serde_json::to_string_pretty(&stats)?;
        out.push('\n');
        return Ok(out);
    }
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(out, "Данные на {}", stats.as_of);
    let _ = writeln!(
        out,
        "Всего: {}, открыто: {}, просрочено: {}, под угрозой: {}",
        stats.total, stats.open, stats.overdue, stats.at_risk
    );
    let _ = writeln!(
        out,
        "Без темы: {}, без координат: {}, без муниципалитета: {}",
        stats.unclassified, stats.without_coordinates, stats.without_municipality
    );
    for (title, map) in [
        ("По блокам", &stats.by_block),
        ("По статусам", &stats.by_status),
        ("По режимам", &stats.by_regime),
        ("По муниципалитетам", &stats.by_municipality),
    ] {
        let _ = writeln!(out, "\n{title}:");
        for (key, n) in map {
            let _ = writeln!(out, "  {key:<40} {n:>9}");
        }
    }
    Ok(out)
}

/// The analytics filter of `tsur kpi`'s arguments, checked against the pack.
fn kpi_filter(pack: &RegionPack, args: &KpiArgs) -> Result<Filter> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        bail!("--from {from} позже --to {to}");
    }
    let midnight_utc = |date: NaiveDate| -> Result<i64> {
        date.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(pack.offset()).single())
            .map(|t| t.timestamp())
            .with_context(|| format!("дата {date} вне допустимого диапазона"))
    };
    let block = match &args.block {
        None => None,
        Some(wanted) => Some(
            pack.blocks
                .iter()
                .find(|b| {
                    b.code.as_str() == wanted || b.name.to_lowercase() == wanted.to_lowercase()
                })
                .map(|b| b.code.as_str().to_string())
                .with_context(|| {
                    let known: Vec<String> = pack
                        .blocks
                        .iter()
                        .map(|b| format!("{} ({})", b.code.as_str(), b.name))
                        .collect();
                    format!(
                        "неизвестный блок «{wanted}»; возможные: {}",
                        known.join(", ")
                    )
                })?,
        ),
    };
    let municipality = match &args.municipality {
        None => None,
        Some(wanted) => {
            let lower = wanted.to_lowercase();
            Some(
                pack.municipalities
                    .iter()
                    .find(|m| {
                        m.code.as_str() == wanted
                            || m.name.to_lowercase() == lower
                            || m.short_name.to_lowercase() == lower
                    })
                    .map(|m| m.code.as_str().to_string())
                    .with_context(|| {
                        format!(
                            "неизвестный муниципалитет «{wanted}»: укажите код ОКТМО или название, например «{}»",
                            pack.municipalities.first().map(|m| m.short_name.as_str()).unwrap_or("Челябинск")
                        )
                    })?,
            )
        }
    };
    Ok(Filter {
        from_utc: args.from.map(midnight_utc).transpose()?,
        to_utc: args
            .to
            .map(|d| {
                d.checked_add_days(chrono::Days::new(1))
                    .with_context(|| format!("дата {d} вне допустимого диапазона"))
                    .and_then(midnight_utc)
            })
            .transpose()?,
        block,
        municipality,
        ..Filter::default()
    })
}

/// Computes `tsur kpi` (`--json` or a readable summary).
pub fn kpi(pack: &PackArg, args: &KpiArgs) -> Result<String> {
    let pack = pack.load()?;
    let now = parse_now(&pack, args.now.as_deref())?;
    let filter = kpi_filter(&pack, args)?;
    let store = open_replica(&args.db)?;
    let model = ReadModel::load(&store)?;
    let report = Report::build(&model, &filter, now.timestamp(), &pack);
    let communication =
        tsur_core::analytics::communication::by_organisation(&store, &filter, &pack)?;
    #[derive(serde::Serialize)]
    struct Output<'a> {
        as_of: String,
        period: serde_json::Value,
        block: Option<&'a str>,
        municipality: Option<&'a str>,
        #[serde(flatten)]
        report: &'a Report,
        communication: &'a [tsur_core::analytics::communication::CommunicationIssues],
    }
    if args.json {
        let output = Output {
            as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            period: serde_json::json!({
                "from": args.from.map(|d| d.to_string()),
                "to": args.to.map(|d| d.to_string()),
            }),
            block: filter.block.as_deref(),
            municipality: filter.municipality.as_deref(),
            report: &report,
            communication: &communication,
        };
        let mut out = serde_json::to_string_pretty(&output)?;
        out.push('\n');
        return Ok(out);
    }
    let mut text = kpi_text(&report);
    text += &format!("\nОшибки коммуникации: {} организаций", communication.len());
    for c in communication.iter().take(10) {
        text += &format!(
            "\n  {}: формальных {}, коротких {}, перенаправлено повторно {}, «пинг-понг» {}, низких оценок {}, повторных обращений {}",
            c.name,
            c.formal_answers,
            c.short_answers,
            c.repeatedly_forwarded,
            c.back_and_forth,
            c.low_rated,
            c.followed_by_repeat
        );
    }
    text.push('\n');
    Ok(text)
}

fn kpi_text(report: &Report) -> String {
    use std::fmt::Write as _;
    let share = |v: Option<f64>| {
        v.map_or("нет данных".to_string(), |s| {
            format!("{:.1} %", s * 100.0)
        })
    };
    let hours =
        |v: Option<f64>| v.map_or("нет данных".to_string(), |h| format!("{h:.1} ч"));
    let h = &report.headline;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Обращений: {}, открыто: {}, просрочено: {}, под угрозой 24 ч: {}",
        h.total, h.open, h.overdue, h.at_risk_24h
    );
    let _ = writeln!(out, "В срок: {}", share(h.on_time_share));
    let _ = writeln!(
        out,
        "Время ответа: среднее {}, медиана {}, 90-й процентиль {}",
        hours(h.avg_answer_hours),
        hours(h.median_answer_hours),
        hours(h.p90_answer_hours)
    );
    let _ = writeln!(
        out,
        "Удовлетворённость: {}, повторные: {}, по существу: {}",
        share(h.satisfaction_share),
        share(h.repeat_share),
        share(h.merits_share)
    );
    let _ = writeln!(out, "\nЦели:");
    for t in report.targets.values() {
        let mark = match t.on_target {
            Some(true) => "✓",
            Some(false) => "✗",
            None => "—",
        };
        let value = t
            .value
            .map_or("нет данных".to_string(), |v| format!("{v:.1}"));
        let _ = writeln!(
            out,
            "  {mark} {:<45} {value} {} (цель {})",
            t.name, t.unit, t.target
        );
    }
    let _ = writeln!(out, "\nРейтинг организаций (первые 10):");
    for r in report.ranking.iter().filter(|r| r.rank.is_some()).take(10) {
        let _ = writeln!(
            out,
            "  {:>3}. {:<60} {:>5.1}  ({} обращений)",
            r.rank.unwrap_or_default(),
            r.name,
            r.score.unwrap_or_default(),
            r.appeals
        );
    }
    let _ = writeln!(out, "\nПроблемы (первые 10):");
    for p in report.problems.iter().take(10) {
        let _ = writeln!(
            out,
            "  {} — {} обращений, просрочено {}, за неделю {}",
            p.title, p.appeals, p.overdue, p.last_week
        );
    }
    let _ = writeln!(out, "\nВсплески: {}", report.surges.len());
    for s in &report.surges {
        let _ = writeln!(
            out,
            "  {} · {}: {} за окно при базе {:.1} (×{:.1})",
            s.municipality_name, s.topic_name, s.count, s.baseline_mean, s.ratio
        );
    }
    out
}

/// Opens an existing replica, with a clear message when it is missing.
pub fn open_replica(path: &Path) -> Result<Store> {
    if !path.exists() {
        bail!(
            "файл реплики {} не найден; создайте демо-реплику командой `tsur demo-data --db {}`",
            path.display(),
            path.display()
        );
    }
    Store::open_existing(path).map_err(anyhow::Error::new)
}
