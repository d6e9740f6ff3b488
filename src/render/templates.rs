//! Template loading: the project's `templates/` copy of a template when it
//! has one (operators may edit them), else the one built into the binary;
//! all parsed once, with the escaping filters registered.

use std::path::Path;

use anyhow::{Context as _, Result};
use tera::{Context, Tera};

use super::{bundle, filters};

/// The first-boot install script run by cloud-init (see cloudinit.rs); not
/// a bundle file, since it unpacks the bundle.
pub const INSTALL_TEMPLATE: &str = "install.sh.tera";
const INSTALL_EMBEDDED: &str = include_str!("../../templates/install.sh.tera");

/// A template's text: the project's copy if it has one, else the built-in one.
fn template_source(project: &Path, name: &str, embedded: &str) -> Result<String> {
    let local = project.join("templates").join(name);
    match std::fs::read_to_string(&local) {
        Ok(t) => Ok(t),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(embedded.to_string()),
        Err(err) => Err(err).with_context(|| format!("reading {}", local.display())),
    }
}

pub(super) fn tera_for(project: &Path) -> Result<Tera> {
    let mut tera = Tera::default();
    let mut sources = Vec::new();
    for e in bundle::ENTRIES {
        sources.push((
            e.template,
            template_source(project, e.template, e.embedded)?,
        ));
    }
    let install = template_source(project, INSTALL_TEMPLATE, INSTALL_EMBEDDED)?;
    if install.contains(crate::version::STAND_IN) {
        return Err(crate::error::Error::invalid(format!(
            "templates/{INSTALL_TEMPLATE} contains the text {:?}, which the build uses as the version's stand-in; write {{{{ version }}}} instead",
            crate::version::STAND_IN
        ))
        .into());
    }
    sources.push((INSTALL_TEMPLATE, install));
    tera.add_raw_templates(sources)
        .context("parsing templates/")?;
    tera.register_filter("toml_str", filters::toml_str);
    tera.register_filter("yaml_str", filters::yaml_str);
    tera.register_filter("compose_str", filters::compose_str);
    tera.register_filter("sh_str", filters::sh_str);
    Ok(tera)
}

/// The project's templates, parsed once for both renders of a build.
pub struct Templates(Tera);

impl Templates {
    pub fn load(project: &Path) -> Result<Self> {
        Ok(Templates(tera_for(project)?))
    }

    /// The parsed templates, for the bundle's render.
    pub(super) fn tera(&self) -> &Tera {
        &self.0
    }

    /// Renders the first-boot install script.
    pub fn render_install(&self, ctx: &Context) -> Result<String> {
        self.0
            .render(INSTALL_TEMPLATE, ctx)
            .with_context(|| format!("rendering templates/{INSTALL_TEMPLATE}"))
    }
}
