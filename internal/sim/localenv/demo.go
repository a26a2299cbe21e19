package localenv

// DemoManifest is a ready-to-apply example for the local environment: a stable (v1)
// and a canary (v2) Deployment of the demo app, a Service for each, and an ALB
// Ingress that splits traffic 90/10 with an actions annotation, the way Argo
// Rollouts-style canaries drive the AWS Load Balancer Controller. `local up` writes
// it to <dir>/demo.yaml.
const DemoManifest = `# Demo for the albrollouts local environment: stable v1 and canary v2 behind one ALB.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-stable
spec:
  replicas: 2
  selector:
    matchLabels: {app: demo, track: stable}
  template:
    metadata:
      labels: {app: demo, track: stable}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: app
          image: albrollouts/demo:v1
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: demo-canary
spec:
  replicas: 1
  selector:
    matchLabels: {app: demo, track: canary}
  template:
    metadata:
      labels: {app: demo, track: canary}
    spec:
      terminationGracePeriodSeconds: 10
      containers:
        - name: app
          image: albrollouts/demo:v2
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: demo-stable
spec:
  selector: {app: demo, track: stable}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata:
  name: demo-canary
spec:
  selector: {app: demo, track: canary}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: demo
  annotations:
    alb.ingress.kubernetes.io/healthcheck-path: /healthz
    alb.ingress.kubernetes.io/target-group-attributes: deregistration_delay.timeout_seconds=30
    alb.ingress.kubernetes.io/actions.demo: >-
      {"type":"forward","forwardConfig":{"targetGroups":[
      {"serviceName":"demo-stable","servicePort":"80","weight":90},
      {"serviceName":"demo-canary","servicePort":"80","weight":10}]}}
spec:
  ingressClassName: alb
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: demo
                port: {name: use-annotation}
`
