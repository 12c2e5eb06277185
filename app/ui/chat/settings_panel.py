"""Per-model answer settings: three presets in words (Precise, Balanced, Creative) and, behind
"Advanced", the raw sampling values, each with a tooltip that says what it does in plain words.

Why presets: most people want "more exact" or "more inventive", not five numbers. A preset sets
the numbers; changing a number by hand shows "Custom".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.inference.types import SamplingParams
from app.storage.chats import ModelSettings


@dataclass(frozen=True)
class Preset:
    name: str
    hint: str
    temperature: float
    top_p: float
    top_k: int
    repeat_penalty: float


PRESETS = (
    Preset("Precise", "Sticks to the most likely words: best for facts, code and summaries.",
           0.2, 0.9, 40, 1.1),
    Preset("Balanced", "A good default for most questions.", 0.7, 0.95, 40, 1.1),
    Preset("Creative", "Takes more chances with words: for stories, ideas and brainstorming.",
           1.0, 0.98, 100, 1.05),
)

TIPS = {
    "system_prompt": "Instructions the model reads before every message of a chat with this "
                     "model, for example “Answer in French” or “Be brief”.",
    "temperature": "How adventurous the wording is. Low: the same question gets nearly the same "
                   "answer. High: more varied, more surprising, sometimes less accurate.",
    "top_p": "Only words among the most likely ones, adding up to this share of the chances, are "
             "considered. Lower keeps answers more focused.",
    "top_k": "At each step only this many of the most likely next words are considered "
             "(0 means no limit). Lower keeps answers more focused.",
    "max_tokens": "The longest answer, in tokens (a token is about three quarters of a word). "
                  "The answer stops when it reaches this length.",
    "repeat_penalty": "Discourages the model from repeating itself. 1 means no penalty; "
                      "around 1.1 is usual.",
}


class ModelSettingsPanel(QWidget):
    """Presets, system prompt and (under Advanced) sampling for one model; spin box ranges keep
    every value valid. ``saved`` carries the settings to keep for the model."""

    saved = Signal(object)  # ModelSettings

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stop: tuple[str, ...] = ()
        self._seed: int | None = None
        self._loading = False
        self.preset_buttons: dict[str, QPushButton] = {}
        self.preset_group = QButtonGroup(self)
        self.preset_group.setExclusive(True)
        presets = QHBoxLayout()
        presets.addWidget(QLabel("Answers:"))
        for p in PRESETS:
            b = QPushButton(p.name)
            b.setCheckable(True)
            b.setToolTip(p.hint)
            b.setAccessibleName(f"{p.name} answers")
            b.setAccessibleDescription(p.hint)
            self.preset_group.addButton(b)
            self.preset_buttons[p.name] = b
            presets.addWidget(b)
            b.clicked.connect(lambda _c=False, preset=p: self.apply_preset(preset))
        self.preset_label = QLabel("")
        self.preset_label.setProperty("role", "hint")
        self.preset_label.setWordWrap(True)
        presets.addWidget(self.preset_label, 1)

        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setPlaceholderText("e.g. You are a concise assistant.")
        self.system_prompt.setMaximumHeight(64)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.05)
        self.top_p = QDoubleSpinBox()
        self.top_p.setRange(0.05, 1.0)
        self.top_p.setSingleStep(0.05)
        self.top_k = QSpinBox()
        self.top_k.setRange(0, 500)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 32768)
        self.repeat_penalty = QDoubleSpinBox()
        self.repeat_penalty.setRange(0.5, 2.0)
        self.repeat_penalty.setSingleStep(0.05)

        prompt_label = QLabel("Instructions for the model")
        prompt_label.setToolTip(TIPS["system_prompt"])
        self.system_prompt.setToolTip(TIPS["system_prompt"])
        self.system_prompt.setAccessibleName("Instructions for the model")
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolTip("Show the raw sampling values the presets set")
        self.advanced = QWidget()
        grid = QGridLayout(self.advanced)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, (label, key, box) in enumerate(
            (
                ("Temperature", "temperature", self.temperature),
                ("Top-p", "top_p", self.top_p),
                ("Top-k", "top_k", self.top_k),
                ("Longest answer (tokens)", "max_tokens", self.max_tokens),
                ("Repeat penalty", "repeat_penalty", self.repeat_penalty),
            )
        ):
            row, col = i // 2, (i % 2) * 2
            lab = QLabel(label)
            lab.setToolTip(TIPS[key])
            lab.setBuddy(box)
            box.setToolTip(TIPS[key])
            box.setAccessibleName(label)
            grid.addWidget(lab, row, col)
            grid.addWidget(box, row, col + 1)
            box.valueChanged.connect(self._on_value_changed)  # type: ignore[attr-defined]
        self.advanced.setVisible(False)
        self.advanced_button.toggled.connect(self.advanced.setVisible)

        self.save_button = QPushButton("Save for this model")
        self.save_button.setAccessibleName("Save answer settings for this model")
        self.reset_button = QPushButton("Defaults")
        self.reset_button.setAccessibleName("Back to the default answer settings")
        self.advanced_button.setAccessibleName("Advanced answer settings")
        self.reset_button.setToolTip("Balanced answers and no instructions")
        buttons = QHBoxLayout()
        buttons.addWidget(self.advanced_button)
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        buttons.addWidget(self.save_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(presets)
        layout.addWidget(prompt_label)
        layout.addWidget(self.system_prompt)
        layout.addWidget(self.advanced)
        layout.addLayout(buttons)
        self.save_button.clicked.connect(lambda: self.saved.emit(self.settings()))
        self.reset_button.clicked.connect(lambda: self.load(ModelSettings()))
        self.load(ModelSettings())

    # presets -----------------------------------------------------------------------------------
    def apply_preset(self, preset: Preset) -> None:
        """Set the preset's values and keep them for this model at once."""
        self._loading = True
        try:
            self.temperature.setValue(preset.temperature)
            self.top_p.setValue(preset.top_p)
            self.top_k.setValue(preset.top_k)
            self.repeat_penalty.setValue(preset.repeat_penalty)
        finally:
            self._loading = False
        self._show_preset()
        self.saved.emit(self.settings())

    def current_preset(self) -> Preset | None:
        for p in PRESETS:
            if (abs(self.temperature.value() - p.temperature) < 1e-6
                    and abs(self.top_p.value() - p.top_p) < 1e-6
                    and self.top_k.value() == p.top_k
                    and abs(self.repeat_penalty.value() - p.repeat_penalty) < 1e-6):
                return p
        return None

    def _on_value_changed(self, _value: object) -> None:
        if not self._loading:
            self._show_preset()

    def _show_preset(self) -> None:
        preset = self.current_preset()
        self.preset_group.setExclusive(False)
        for name, button in self.preset_buttons.items():
            button.setChecked(preset is not None and preset.name == name)
        self.preset_group.setExclusive(True)
        self.preset_label.setText(preset.hint if preset is not None
                                  else "Custom values (see Advanced).")

    # load/save ---------------------------------------------------------------------------------
    def load(self, settings: ModelSettings) -> None:
        p = settings.params
        self._loading = True
        try:
            self.system_prompt.setPlainText(settings.system_prompt)
            self.temperature.setValue(p.temperature)
            self.top_p.setValue(p.top_p)
            self.top_k.setValue(p.top_k)
            self.max_tokens.setValue(p.max_tokens)
            self.repeat_penalty.setValue(p.repeat_penalty)
        finally:
            self._loading = False
        self._stop, self._seed = p.stop, p.seed
        self._show_preset()

    def settings(self) -> ModelSettings:
        return ModelSettings(
            system_prompt=self.system_prompt.toPlainText().strip(),
            params=SamplingParams(
                max_tokens=self.max_tokens.value(),
                temperature=round(self.temperature.value(), 3),
                top_p=round(self.top_p.value(), 3),
                top_k=self.top_k.value(),
                repeat_penalty=round(self.repeat_penalty.value(), 3),
                stop=self._stop,
                seed=self._seed,
            ),
        )
