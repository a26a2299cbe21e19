{{/* The chart name, or nameOverride. */}}
{{- define "albrollouts.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the objects: fullnameOverride, else the release name when it holds the
chart name, else <release>-<chart>. A release named albrollouts gives the names of
config/ (albrollouts, albrollouts-controller, albrollouts-leader-election).
*/}}
{{- define "albrollouts.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "albrollouts.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "albrollouts.labels" -}}
helm.sh/chart: {{ include "albrollouts.chart" . }}
{{ include "albrollouts.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: albrollouts
{{- end }}

{{- define "albrollouts.selectorLabels" -}}
app.kubernetes.io/name: {{ include "albrollouts.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels and selector of the controller's pods. */}}
{{- define "albrollouts.controller.labels" -}}
{{ include "albrollouts.labels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "albrollouts.controller.selectorLabels" -}}
{{ include "albrollouts.selectorLabels" . }}
app.kubernetes.io/component: controller
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "albrollouts.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "albrollouts.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller image: repository:tag, the tag defaulting to the chart's appVersion. */}}
{{- define "albrollouts.image" -}}
{{- printf "%s:%s" .Values.controller.image.repository (default .Chart.AppVersion .Values.controller.image.tag | toString) }}
{{- end }}
