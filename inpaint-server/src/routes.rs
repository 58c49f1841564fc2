//! The HTTP routes: IOPaint's `api.py`, route for route.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;
use socketioxide::SocketIo;

use inpaint_core::{Progress, ProgressStep};

use crate::codec;
use crate::engine::Engine;
use crate::error::ApiError;
use crate::mask::{self, Operation};
use crate::schema::{Fields, GenInfo, InpaintRequest, SAMPLERS, ServerConfig};
use crate::{ServerOptions, WebApp};

/// What every handler shares.
pub(crate) struct AppState {
    pub(crate) engine: Arc<Engine>,
    pub(crate) options: ServerOptions,
    pub(crate) io: SocketIo,
}

pub(crate) type Shared = State<Arc<AppState>>;

/// A request body, its size limit answered in IOPaint's error shape (413).
pub(crate) struct Body(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|rejection| {
                ApiError::new(rejection.status(), "BodyError", rejection.body_text())
            })
    }
}

/// The first file field of a multipart form (the app sends one, named `file`).
async fn read_file(mut form: Multipart) -> Result<(Option<String>, Bytes), ApiError> {
    let multipart_error = |err: axum::extract::multipart::MultipartError| {
        ApiError::new(err.status(), "BodyError", err.body_text())
    };
    while let Some(field) = form.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let name = field.file_name().map(str::to_owned);
            let bytes = field.bytes().await.map_err(multipart_error)?;
            return Ok((name, bytes));
        }
    }
    Err(ApiError::validation("the form has no `file` field"))
}

fn multipart_rejection(rejection: axum::extract::multipart::MultipartRejection) -> ApiError {
    ApiError::new(rejection.status(), "BodyError", rejection.body_text())
}

pub(crate) async fn server_config(State(app): Shared) -> Result<Json<ServerConfig>, ApiError> {
    let engine = app.engine.clone();
    let served = engine.served().await.info;
    let mut model_infos = tokio::task::spawn_blocking(move || engine.models.list())
        .await
        .map_err(|err| ApiError::internal(format!("listing the models failed: {err}")))?;
    // The served model describes itself (whether it reads a prompt comes from the model).
    match model_infos.iter_mut().find(|i| i.name == served.name) {
        Some(info) => *info = served,
        None => model_infos.push(served),
    }
    Ok(Json(ServerConfig {
        plugins: Vec::new(),
        model_infos,
        remove_bg_model: "briaai/RMBG-1.4",
        remove_bg_models: Vec::new(),
        realesrgan_model: "realesr-general-x4v3",
        realesrgan_models: Vec::new(),
        interactive_seg_model: "sam2_1_tiny",
        interactive_seg_models: Vec::new(),
        enable_file_manager: false,
        enable_auto_saving: app.options.output_dir.is_some(),
        enable_controlnet: false,
        controlnet_method: None,
        disable_model_switch: false,
        is_desktop: false,
        samplers: SAMPLERS.to_vec(),
    }))
}

pub(crate) async fn current_model(State(app): Shared) -> impl IntoResponse {
    Json(app.engine.served().await.info)
}

pub(crate) async fn switch_model(
    State(app): Shared,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let fields = Fields::parse(&body)?;
    let name = fields.required_string("name")?;
    let started = Instant::now();
    let served = app.engine.switch(name).await?;
    tracing::info!(
        route = "/api/v1/model",
        model = %served.info.name,
        device = %served.active.device,
        switch_ms = started.elapsed().as_millis() as u64,
        "model switched"
    );
    Ok(Json(served.info))
}

pub(crate) async fn samplers() -> impl IntoResponse {
    Json(SAMPLERS)
}

pub(crate) async fn inpaint(State(app): Shared, Body(body): Body) -> Result<Response, ApiError> {
    let timeout = app.options.request_timeout;
    let size = body.len();
    let work = run_inpaint(app.clone(), body);
    let result = match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::unavailable(
            format!(
                "the request took longer than the server's limit of {} s",
                timeout.as_secs_f64()
            ),
            5,
        )),
    };
    if let Err(err) = &result {
        tracing::warn!(
            route = "/api/v1/inpaint",
            size,
            status = err.status().as_u16(),
            "{}",
            err.message()
        );
    }
    result
}

/// The extender's canvas within the server's limits (the pipeline checks only the defaults).
fn outpaint_within(
    options: &inpaint_core::InpaintOptions,
    image: &inpaint_core::Image,
    limits: &inpaint_core::Limits,
) -> inpaint_core::Result<()> {
    if options.extender.is_none() {
        return Ok(());
    }
    let (width, height) = options.output_size(image.width(), image.height())?;
    limits.check(width.into(), height.into())
}

async fn run_inpaint(app: Arc<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let size = body.len();
    let admission = app.engine.admit().await?;
    let limits = app.options.limits;
    let decode_started = Instant::now();
    let (request, input, mask) = blocking(move || {
        let request = InpaintRequest::from_fields(&Fields::parse(&body)?)?;
        drop(body);
        let image_bytes = codec::decode_base64(&request.image).map_err(|e| e.context("image"))?;
        let input = codec::decode_image(&image_bytes, &limits).map_err(|e| e.context("image"))?;
        let mask_bytes = codec::decode_base64(&request.mask).map_err(|e| e.context("mask"))?;
        let mask = codec::decode_mask(&mask_bytes, &limits).map_err(|e| e.context("mask"))?;
        if input.image.dimensions() != mask.dimensions() {
            let ((w, h), (mw, mh)) = (input.image.dimensions(), mask.dimensions());
            return Err(ApiError::bad_request(format!(
                "the image is {w}×{h} but the mask is {mw}×{mh}; they must match"
            )));
        }
        Ok((request, input, mask))
    })
    .await?;
    let decode_time = decode_started.elapsed();

    let seed = request.options.request.seed;
    let mut options = request.options.clone();
    let cancel = CancelOnDrop::default();
    options.request.progress = Some(progress_to_socket(&app.io, cancel.flag.clone()));
    let image = input.image;
    let ((result, served), timing) = app
        .engine
        .run(admission, move |model, served| {
            // IOPaint's diffusion options (croper, extender, sd_scale, sd_mask_blur, …) belong
            // to its DiffusionInpaintModel: its erase models ignore them, and its web app keeps
            // sending them after a switch to one.
            if !model.spec().sees_whole_image() {
                options = options.without_diffusion_options();
            }
            let result = outpaint_within(&options, &image, &limits)
                .and_then(|()| inpaint_core::inpaint(model, &image, &mask, &options));
            (result, served.clone())
        })
        .await?;
    // IOPaint sends this after every inpaint, erase models included; the app resets its
    // progress bar on it.
    let io = app.io.clone();
    tokio::spawn(async move {
        let _ = io.emit("diffusion_finish", &()).await;
    });
    let result = result?;

    let encode_started = Instant::now();
    let (format, metadata) = (input.format, input.metadata);
    let (width, height) = result.dimensions();
    let bytes = blocking(move || codec::encode(result, format, &metadata)).await?;
    let encode_time = encode_started.elapsed();
    tracing::info!(
        route = "/api/v1/inpaint",
        size,
        width,
        height,
        model = %served.info.name,
        device = %served.active.device,
        decode_ms = ms(decode_time),
        queue_ms = ms(timing.queue_wait),
        model_ms = ms(timing.run),
        encode_ms = ms(encode_time),
        "inpainted"
    );
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(codec::mime(format)),
        )],
        bytes,
    )
        .into_response();
    response
        .headers_mut()
        .insert("x-seed", HeaderValue::from(seed));
    drop(cancel);
    Ok(response)
}

/// Set when the request is dropped (the client went away, or the timeout fired): a model
/// that reports progress then stops at its next step instead of running on for nobody.
#[derive(Default)]
struct CancelOnDrop {
    flag: Arc<AtomicBool>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Relaxed);
    }
}

/// A [`Progress`] that sends IOPaint's `diffusion_progress` events, in order, and stops the
/// run once `cancelled` is set.
fn progress_to_socket(io: &SocketIo, cancelled: Arc<AtomicBool>) -> Progress {
    let (steps, mut received) = tokio::sync::mpsc::unbounded_channel::<u32>();
    let io = io.clone();
    tokio::spawn(async move {
        while let Some(step) = received.recv().await {
            let _ = io
                .emit("diffusion_progress", &json!({ "step": step }))
                .await;
        }
    });
    Progress::new(move |step: &ProgressStep| {
        // IOPaint sends diffusers' 0-based step index; the app shows `step + 1`.
        let _ = steps.send(step.step.saturating_sub(1));
        if cancelled.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
}

fn ms(duration: std::time::Duration) -> f64 {
    (duration.as_secs_f64() * 1e4).round() / 10.0
}

/// Runs CPU-bound work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| ApiError::internal(format!("the work failed: {err}")))?
}

pub(crate) async fn input_image(State(app): Shared) -> Result<Response, ApiError> {
    let Some(path) = app.options.input.clone() else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "HTTPException",
            "no input image configured (start the server with --input FILE)",
        ));
    };
    let bytes = tokio::fs::read(&path).await.map_err(|err| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "HTTPException",
            format!("input image {}: {err}", path.display()),
        )
    })?;
    let mime = image::guess_format(&bytes)
        .map(codec::mime)
        .unwrap_or("application/octet-stream");
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

pub(crate) async fn adjust_mask(
    State(app): Shared,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let limits = app.options.limits;
    let png = blocking(move || {
        let fields = Fields::parse(&body)?;
        let operate = fields.required_string("operate")?;
        let operation = Operation::parse(operate).ok_or_else(|| {
            ApiError::validation(format!(
                "`operate` must be one of {}, got `{operate}`",
                Operation::NAMES.join(", ")
            ))
        })?;
        // Larger kernels are slower than they are useful: 200 px grows a mask by 200 px.
        let kernel_size = fields.integer_in(&["kernel_size"], 5, 0, 200)?;
        let bytes =
            codec::decode_base64(fields.required_string("mask")?).map_err(|e| e.context("mask"))?;
        let mask = codec::decode_mask(&bytes, &limits).map_err(|e| e.context("mask"))?;
        let picture = mask::adjust(mask.as_gray(), kernel_size as u32, operation);
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        )
        .write_image_rgba(&picture)
        .map_err(|err| ApiError::internal(format!("encoding the mask: {err}")))?;
        Ok(out)
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

trait WriteRgba {
    fn write_image_rgba(self, picture: &image::RgbaImage) -> image::ImageResult<()>;
}

impl<E: image::ImageEncoder> WriteRgba for E {
    fn write_image_rgba(self, picture: &image::RgbaImage) -> image::ImageResult<()> {
        self.write_image(
            picture.as_raw(),
            picture.width(),
            picture.height(),
            image::ExtendedColorType::Rgba8,
        )
    }
}

pub(crate) async fn gen_info(
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let (_, bytes) = read_file(form.map_err(multipart_rejection)?).await?;
    let info = match image::guess_format(&bytes) {
        Ok(image::ImageFormat::Png) => {
            codec::png_text(&bytes, "parameters").map(|p| GenInfo::from_parameters(&p))
        }
        Ok(_) => None,
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UnsupportedImage",
                "file: not an image",
            ));
        }
    };
    Ok(Json(info.unwrap_or_default()))
}

pub(crate) async fn save_image(
    State(app): Shared,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Some(dir) = app.options.output_dir.clone() else {
        return Err(ApiError::bad_request(
            "Output directory not configured or doesn't exist (start the server with --output-dir DIR)",
        ));
    };
    let (name, bytes) = read_file(form.map_err(multipart_rejection)?).await?;
    let name = name.unwrap_or_default();
    let name = safe_file_name(&name)?;
    if image::guess_format(&bytes).is_err() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "UnsupportedImage",
            "file: not an image",
        ));
    }
    let path = dir.join(name);
    blocking(move || {
        inpaint_core::io::write_atomically(&path, &bytes).map_err(|err| {
            ApiError::internal(format!("saving: {}", err.full_message()))
        })?;
        tracing::info!(route = "/api/v1/save_image", path = %path.display(), size = bytes.len(), "saved");
        Ok(())
    })
    .await?;
    Ok(Json(serde_json::Value::Null))
}

/// A plain file name: no folder part, no `..`, nothing hidden, nothing odd.
fn safe_file_name(name: &str) -> Result<&str, ApiError> {
    let refused = |why: &str| ApiError::bad_request(format!("file name `{name}` refused: {why}"));
    if name.is_empty() {
        return Err(refused("empty"));
    }
    if name.contains(['/', '\\', '\0']) || name == ".." || name == "." {
        return Err(refused("it names a folder; give a plain file name"));
    }
    if name.starts_with('.') {
        return Err(refused("hidden files are not written"));
    }
    if name.chars().any(char::is_control) || name.len() > 255 {
        return Err(refused("control characters or longer than 255 bytes"));
    }
    Ok(name)
}

pub(crate) async fn no_plugins() -> ApiError {
    ApiError::validation("Plugin not found: this server has no plugins")
}

pub(crate) async fn api_not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "HTTPException",
        format!("no route {}", uri.path()),
    )
}

/// `/` without the web app: how to get it.
pub(crate) async fn no_web_app() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(format!(
            "<!doctype html><meta charset=utf-8><title>inpaint-server</title>\
             <h1>inpaint-server</h1><p>The API is up ({}), but IOPaint's web app is not \
             installed here.</p><p>Get it once with <code>scripts/fetch-iopaint-web.sh</code> \
             (it extracts <code>web_app/</code> from the <code>iopaint</code> 1.6.0 wheel on \
             PyPI), then restart the server, or pass <code>--web-app DIR</code>.</p>",
            json!({"api": "/api/v1", "socket.io": "/socket.io/"})
        )),
    )
        .into_response()
}

/// Where the app came from, for the start-up lines.
pub(crate) fn describe_web_app(web_app: &WebApp) -> String {
    match web_app {
        WebApp::Dir(dir) => format!("IOPaint's web app from {}", dir.display()),
        WebApp::Missing(dir) => format!(
            "none: {} has no index.html; run scripts/fetch-iopaint-web.sh (the API works without it)",
            dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn progress_runs_on_until_the_request_is_dropped() {
        let (_layer, io) = SocketIo::new_layer();
        let cancel = CancelOnDrop::default();
        let progress = progress_to_socket(&io, cancel.flag.clone());
        let step = ProgressStep::new(1, 20, std::time::Duration::ZERO);
        assert!(progress.report(&step).is_ok());
        drop(cancel);
        assert!(matches!(
            progress.report(&step),
            Err(inpaint_core::Error::Cancelled)
        ));
    }

    #[test]
    fn file_names_that_leave_the_folder_are_refused() {
        for bad in [
            "",
            "..",
            ".",
            "../x.png",
            "a/b.png",
            "a\\b.png",
            ".hidden.png",
            "x\0.png",
        ] {
            assert!(safe_file_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(safe_file_name("photo (1).png").unwrap(), "photo (1).png");
    }
}
