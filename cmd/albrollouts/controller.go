package main

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/credentials"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/albrollouts/albrollouts/internal/controller"
	"github.com/albrollouts/albrollouts/internal/controllercmd"
	"github.com/albrollouts/albrollouts/internal/elbv2"
	"github.com/albrollouts/albrollouts/internal/sim/localenv"
)

func init() {
	// `albrollouts controller` is the command the image's albrollouts-controller
	// binary runs alone (cmd/albrollouts-controller).
	register(controllercmd.NewCommand)
	// `local up --with-controller` runs the controller in-process against the
	// local environment's control plane and elbsim, verifying by default.
	rolloutControllerComponent = &localenv.Component{Name: "rollout-controller", Run: runLocalController}
}

// runLocalController runs the rollout controller inside the local environment.
func runLocalController(ctx context.Context, env *localenv.Env) error {
	mgr, err := controller.NewManager(ctx, env.RESTConfig(), controller.ManagerOptions{
		Options:        controller.Options{VerifyByDefault: true},
		AWSRegion:      localenv.DefaultRegion,
		AWSEndpointURL: env.ELBV2Endpoint(),
		// elbsim serves CloudWatch beside ELBv2, on the same endpoint.
		CloudWatchEndpointURL: env.ELBV2Endpoint(),
		ELBV2:                 elbv2.Options{Credentials: credentials.NewStaticCredentialsProvider(localenv.DummyAccessKey, localenv.DummySecretKey, "")},
		Logger:                ctrl.Log.WithName("rollout-controller"),
	})
	if err != nil {
		return err
	}
	return mgr.Start(ctx)
}
