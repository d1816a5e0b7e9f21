{{/*
One label scheme for every object, so that every selector matches the pod labels.
Object names are the release name: install the chart as the service's name.
*/}}
{{- define "service.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end }}

{{- define "service.labels" -}}
{{ include "service.selector" . }}
app.kubernetes.io/part-of: {{ .Values.partOf | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | quote }}
{{- end }}

{{/* The image, by digest when values give one. */}}
{{- define "service.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}
{{- end }}

{{/* Whether this release runs a single replica: kube-score's replica check is then accepted. */}}
{{- define "service.singleReplica" -}}
{{- if .Values.autoscaling.enabled -}}
{{ eq (int .Values.autoscaling.minReplicas) 1 | ternary "yes" "" }}
{{- else -}}
{{ eq (int .Values.replicas) 1 | ternary "yes" "" }}
{{- end }}
{{- end }}
